"""``prompt_attack`` and ``indirect_attack`` on Azure AI Content Safety's Prompt Shields.

Prompt Shields (``text:shieldPrompt``, :mod:`evalcli.safety.shields`) look at the inputs of
a model call, before the model answers:

* ``prompt_attack`` sends the user turn (``query``) as ``userPrompt``; the label is
  ``userPromptAnalysis.attackDetected``;
* ``indirect_attack`` sends the ``context`` (one text, or a list of documents) as
  ``documents``; the label is true when any ``documentsAnalysis[].attackDetected`` is.

Both labels are detections (metric ``<alias>.K_detection_rate``): they tell which attacks an
input filter would have stopped, not whether the application fell for them, so the
scorecard does not count them as defects. ``indirect_attack`` keeps the judge backend's
keys: ``K_details`` holds the judge's three categories as ``null`` (Prompt Shields does not
classify) and ``flagged_documents``, the 0-based indexes of the flagged documents.
"""

from __future__ import annotations

from typing import Any

from evalcli.evaluators.base import Evaluator, InputSpec, Outputs
from evalcli.evaluators.context import EvalContext
from evalcli.evaluators.safety_common import context_sources, text_input
from evalcli.evaluators.safety_labels import (
    INDIRECT_ATTACK,
    PROMPT_ATTACK,
    LabelKind,
    LabelMixin,
    label_fields,
)
from evalcli.safety.operations import ContentSafety, Request
from evalcli.safety.shields import SHIELD_PROMPT, shield_prompt, shield_requests

SHIELDED = (INDIRECT_ATTACK, PROMPT_ATTACK)


class ShieldLabelEvaluator(LabelMixin, Evaluator):
    """A Prompt Shields verdict on the user turn (prompt_attack) or the context."""

    execution = "io"

    def __init__(self, alias: str, kind: LabelKind, service: ContentSafety):
        if kind not in SHIELDED:
            raise ValueError(f"Prompt Shields do not answer {kind.name}")
        if kind is PROMPT_ATTACK:
            inputs: tuple[InputSpec, ...] = (InputSpec("query"),)
        else:
            # query and response stay declared (optional) so that switching backends needs
            # no change of columns; only the documents are sent.
            inputs = (
                InputSpec("query", required=False),
                InputSpec("response", required=False),
                InputSpec("context", kind="texts"),
            )
        super().__init__(alias, kind.name, inputs, label_fields(kind, judged=False))
        self.kind = kind
        self.service = service
        self.judge_label = service.client.label

    def requests(self, inputs: dict[str, Any]) -> list[Request]:
        """The calls one evaluation makes (for ``run --estimate``).

        Raises:
            RowError: the input the evaluation needs is missing or of the wrong type.
        """
        prompt, documents = self._inputs(inputs)
        version = self.service.api_version
        return [
            Request(SHIELD_PROMPT, body, version) for body, _ in shield_requests(prompt, documents)
        ]

    def _inputs(self, inputs: dict[str, Any]) -> tuple[str | None, list[str]]:
        if self.kind is PROMPT_ATTACK:
            return text_input(inputs, "query"), []
        return None, context_sources(inputs.get("context"))

    def evaluate(self, inputs: dict[str, Any], ctx: EvalContext) -> Outputs:
        prompt, documents = self._inputs(inputs)
        result = shield_prompt(
            self.service.client, prompt, documents, api_version=self.service.api_version
        )
        k = self.kind.name
        if self.kind is PROMPT_ATTACK:
            detected = bool(result.user_prompt_attack)
            if result.user_prompt_attack is None:
                reason = "The user turn is empty, so nothing was sent to Prompt Shields."
            else:
                found = "found" if detected else "found no"
                reason = f"Prompt Shields {found} direct attack in the user turn."
                reason += _parts_note(result.calls)
            return {f"{k}_label": detected, f"{k}_reason": reason}
        flagged = [i for i, hit in enumerate(result.document_attacks) if hit]
        count = len(documents)
        docs = f"{count} document{'s' if count != 1 else ''}"
        if flagged:
            which = ", ".join(str(i) for i in flagged)
            reason = f"Prompt Shields found an attack in {docs}: flagged (0-based) {which}."
        elif result.calls == 0:
            reason = "The context is empty, so nothing was sent to Prompt Shields."
        else:
            reason = f"Prompt Shields found no attack in {docs}."
        reason += _parts_note(result.calls)
        details: dict[str, Any] = dict.fromkeys(self.kind.details)
        details["flagged_documents"] = flagged
        return {f"{k}_label": bool(flagged), f"{k}_reason": reason, f"{k}_details": details}

    def describe_params(self) -> dict[str, Any]:
        return {
            "backend": "azure_content_safety",
            "operation": SHIELD_PROMPT,
            "endpoint": self.service.client.endpoint,
            "api_version": self.service.api_version,
        }


def _parts_note(calls: int) -> str:
    if calls <= 1:
        return ""
    return (
        f" The input exceeded the API's limits per call and was checked in {calls} calls; "
        "a flag in any part counts."
    )
