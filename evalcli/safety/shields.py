"""Azure AI Content Safety Prompt Shields (``text:shieldPrompt``), within its input limits.

Prompt Shields look at the *inputs* of a model call, before the model answers: the user's
prompt (a direct attack, "jailbreak") and documents the application feeds the model (an
indirect attack planted in them). Request and answer, as documented by Microsoft (REST
reference "Text Operations - Shield Prompt", api-version 2024-09-01)::

    POST {endpoint}/contentsafety/text:shieldPrompt?api-version=2024-09-01
    {"userPrompt": "...", "documents": ["...", "..."]}
    -> {"userPromptAnalysis": {"attackDetected": bool},
        "documentsAnalysis": [{"attackDetected": bool}, ...]}   # one per document, in order

Limits ("What is Azure AI Content Safety?" -> Input requirements): the prompt at most 10,000
characters; at most 5 documents per call, totalling at most 10,000 characters. Longer inputs
are checked in parts (split at whitespace, as the other operations do) over several calls,
and an input counts as an attack when any of its parts is flagged.

:func:`shield_prompt` takes any client with the ``post(operation, body, *, api_version)``
method of :class:`evalcli.safety.client.ContentSafetyClient`, so the evaluators that use it
(``indirect_attack`` with ``backend: azure_content_safety``, ``prompt_attack``) share the
run's client, its retry policy and its call cache.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from evalcli.errors import RowError

SHIELD_PROMPT = "text:shieldPrompt"
DEFAULT_API_VERSION = "2024-09-01"


class ContentSafetyPoster(Protocol):
    """The part of the Content Safety client this module needs."""

    def post(
        self, operation: str, body: Mapping[str, Any], *, api_version: str
    ) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ShieldLimits:
    """Prompt Shields input limits (Unicode code points, as the service counts them)."""

    prompt_max_chars: int = 10_000
    documents_max_count: int = 5
    documents_max_total_chars: int = 10_000


@dataclass(frozen=True)
class ShieldResult:
    """What Prompt Shields found.

    Attributes:
        user_prompt_attack: The prompt was flagged (None when no prompt was given).
        document_attacks: One flag per given document, in order.
        calls: How many requests the check took (parts of long inputs are separate).
    """

    user_prompt_attack: bool | None
    document_attacks: tuple[bool, ...]
    calls: int

    @property
    def document_attack(self) -> bool:
        """True when any document was flagged."""
        return any(self.document_attacks)


def shield_requests(
    user_prompt: str | None,
    documents: Sequence[str] = (),
    limits: ShieldLimits | None = None,
) -> list[tuple[dict[str, Any], list[int]]]:
    """The request bodies a check makes, each with the document index of every part it sends.

    The prompt's parts and the documents' parts are packed into as few calls as the limits
    allow: call ``j`` carries prompt part ``j`` (if any) and the ``j``-th batch of document
    parts (if any). Empty texts are not sent.
    """
    from evalcli.safety.operations import split_text

    lim = limits or ShieldLimits()
    prompt_parts = split_text(user_prompt, lim.prompt_max_chars) if user_prompt else []
    doc_parts = [
        (index, part)
        for index, doc in enumerate(documents)
        if doc
        for part in split_text(doc, lim.documents_max_total_chars)
    ]
    batches: list[list[tuple[int, str]]] = []
    for index, part in doc_parts:
        batch = batches[-1] if batches else None
        if (
            batch is None
            or len(batch) >= lim.documents_max_count
            or sum(len(p) for _, p in batch) + len(part) > lim.documents_max_total_chars
        ):
            batch = []
            batches.append(batch)
        batch.append((index, part))
    requests: list[tuple[dict[str, Any], list[int]]] = []
    for j in range(max(len(prompt_parts), len(batches))):
        body: dict[str, Any] = {}
        if j < len(prompt_parts):
            body["userPrompt"] = prompt_parts[j]
        indexes: list[int] = []
        if j < len(batches):
            body["documents"] = [part for _, part in batches[j]]
            indexes = [index for index, _ in batches[j]]
        requests.append((body, indexes))
    return requests


def shield_prompt(
    client: ContentSafetyPoster,
    user_prompt: str | None,
    documents: Sequence[str] = (),
    *,
    api_version: str = DEFAULT_API_VERSION,
    limits: ShieldLimits | None = None,
) -> ShieldResult:
    """Ask Prompt Shields whether the prompt and/or the documents carry an attack.

    Raises:
        RowError: an answer without the analyses the request asked for
            (``content-safety-bad-answer``, raw answer kept), or what the client raises for
            this call.
        RemoteError: from the client, when the service refuses us.
    """
    requests = shield_requests(user_prompt, documents, limits)
    prompt_flag: bool | None = None if not user_prompt else False
    doc_flags = [False] * len(documents)
    for body, indexes in requests:
        answer = client.post(SHIELD_PROMPT, body, api_version=api_version)
        if "userPrompt" in body:
            analysis = answer.get("userPromptAnalysis")
            flag = analysis.get("attackDetected") if isinstance(analysis, dict) else None
            if not isinstance(flag, bool):
                raise _bad_answer("no userPromptAnalysis.attackDetected", answer)
            prompt_flag = bool(prompt_flag) or flag
        if indexes:
            entries = answer.get("documentsAnalysis")
            if not isinstance(entries, list) or len(entries) != len(indexes):
                raise _bad_answer(
                    f"documentsAnalysis should hold {len(indexes)} entries (one per document)",
                    answer,
                )
            for index, entry in zip(indexes, entries, strict=True):
                flag = entry.get("attackDetected") if isinstance(entry, dict) else None
                if not isinstance(flag, bool):
                    raise _bad_answer("a documentsAnalysis entry has no attackDetected", answer)
                doc_flags[index] = doc_flags[index] or flag
    return ShieldResult(prompt_flag, tuple(doc_flags), len(requests))


def _bad_answer(problem: str, answer: Mapping[str, Any]) -> RowError:
    raw = json.dumps(answer, ensure_ascii=False)[:2000]
    return RowError(
        "content-safety-bad-answer",
        f"Azure AI Content Safety {SHIELD_PROMPT} answer is unusable: {problem}",
        extra={"content_safety_raw_output": raw},
    )
