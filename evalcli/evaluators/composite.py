"""Composite evaluators: several evaluators under one alias (``qa``, ``content_safety``).

Members run as separate tasks (the runner schedules them concurrently) and their outputs are
merged under the composite's alias. Each member keeps its own threshold:
``threshold: {groundedness: 4, f1_score: 0.6}``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from evalcli.config import JudgeConfig
from evalcli.evaluators.base import (
    Evaluator,
    EvaluatorInfo,
    EvaluatorParams,
    Family,
    InputSpec,
    Outputs,
)
from evalcli.evaluators.context import BuildContext, EvalContext
from evalcli.evaluators.params import Threshold, check_members, check_threshold


class CompositeEvaluator(Evaluator):
    """Runs its members as separate tasks; outputs are the union of theirs."""

    def __init__(self, alias: str, name: str, members: tuple[Evaluator, ...]):
        inputs: dict[str, InputSpec] = {}
        for m in members:
            for i in m.inputs:
                prev = inputs.get(i.name)
                # An input is required by the composite only if every member needs it; members
                # that lack an input fail on their own, without sinking the others.
                inputs[i.name] = (
                    i if prev is None else InputSpec(i.name, prev.required and i.required)
                )
        # Only the composite's own pass rate is ``<alias>.pass_rate``: members' are named
        # after their stems.
        outputs = tuple(replace(f, primary=False) for m in members for f in m.outputs)
        super().__init__(alias, name, tuple(inputs.values()), outputs)
        self.members = members
        self.prompt_sha256 = {m.name: _single_hash(m) for m in members}
        judges = {m.judge_label for m in members if m.judge_label}
        self.judge_label = " | ".join(sorted(judges)) or None
        self.pricing = next((m.pricing for m in members if m.pricing is not None), None)
        # A failed member records its error under its own name.
        self.extra_csv_keys = tuple(
            k for m in members for k in (f"{m.name}_error", f"{m.name}_error_kind")
        )

    def evaluate(self, inputs: dict[str, Any], ctx: EvalContext) -> Outputs:
        """Never called: the runner evaluates each member as a task of its own."""
        raise TypeError(f"{self.name} is a composite: evaluate its members")

    def describe_params(self) -> dict[str, Any]:
        return {m.name: m.describe_params() for m in self.members}

    def warm_up(self) -> None:
        """Warm members that need it (tokenizers)."""
        for m in self.members:
            m.warm_up()


def _single_hash(member: Evaluator) -> str | None:
    value = member.prompt_sha256
    return value if isinstance(value, str) or value is None else None


class QaParams(EvaluatorParams):
    """Settings of ``qa``: per-member thresholds and the judge of its judged members."""

    refused: ClassVar[dict[str, str]] = {
        "prompt": "does not apply: the qa composite uses each member's built-in rubric; "
        "configure the members as separate evaluators to change their rubrics"
    }

    threshold: dict[str, Threshold] | None = None
    judge: JudgeConfig | None = None


def build_qa(alias: str, params: QaParams, ctx: BuildContext) -> Evaluator:
    """The ``qa`` composite: groundedness, relevance, coherence, fluency, similarity, F1."""
    from evalcli.evaluators.nlp import DEFAULT_THRESHOLD as NLP_T
    from evalcli.evaluators.nlp import UNIT, F1Evaluator
    from evalcli.evaluators.quality import QUALITY_METRICS, QualityParams, build_quality

    thresholds = params.threshold or {}
    check_members(thresholds, QA_MEMBERS, ctx)
    metrics = {m.name: m for m in QUALITY_METRICS}
    members: list[Evaluator] = []
    for name in QA_MEMBERS:
        t = thresholds.get(name)
        loc = ("threshold", name)
        if name == "f1_score":
            f1_t = NLP_T if t is None else check_threshold(t, *UNIT, ctx, loc)
            members.append(F1Evaluator(alias, "f1_score", f1_t))
        else:
            member = QualityParams(judge=params.judge, threshold=t)
            members.append(build_quality(metrics[name], alias, member, ctx, loc))
    return CompositeEvaluator(alias, "qa", tuple(members))


QA_MEMBERS = ("groundedness", "relevance", "coherence", "fluency", "similarity", "f1_score")
QA_INPUTS = (
    InputSpec("query"),
    InputSpec("response"),
    InputSpec("context"),
    InputSpec("ground_truth"),
)


def _qa_outputs() -> tuple[Any, ...]:
    from evalcli.evaluators.nlp import score_fields as nlp_fields
    from evalcli.evaluators.quality import score_fields

    fields = [f for m in QA_MEMBERS[:-1] for f in score_fields(m)] + list(nlp_fields("f1_score"))
    return tuple(replace(f, primary=False) for f in fields)


COMPOSITE_EVALUATORS: tuple[EvaluatorInfo, ...] = (
    EvaluatorInfo(
        "qa",
        Family.COMPOSITE,
        "groundedness, relevance, coherence, fluency, similarity (judge) and F1, each with its "
        "own threshold",
        QA_INPUTS,
        _qa_outputs(),
        build_qa,
        QaParams,
    ),
)
