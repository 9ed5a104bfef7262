"""Composite evaluators: several evaluators under one alias (``qa``; ``content_safety`` later).

Members run as separate tasks (the runner schedules them concurrently) and their outputs are
merged under the composite's alias. Each member keeps its own threshold:
``threshold: {groundedness: 4, f1_score: 0.6}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evalcli.config import EvaluatorConfig
from evalcli.errors import ConfigError, RowError
from evalcli.evaluators.base import Evaluator, EvaluatorInfo, Family, InputSpec, OutputField
from evalcli.evaluators.context import BuildContext, EvalContext

MemberBuilder = Callable[[str, EvaluatorConfig, BuildContext, Any], Evaluator]


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
        outputs = tuple(
            OutputField(
                f.key,
                f.role,
                f.stem or f.key,
                f.higher_is_better,
                False,
                f.defect_threshold,
                f.label_metric,
            )
            for m in members
            for f in m.outputs
        )
        super().__init__(alias, name, tuple(inputs.values()), outputs)
        self.members = members
        self.prompt_sha256 = {m.name: getattr(m, "prompt_sha256", None) for m in members}
        judges = {getattr(m, "judge_label", None) for m in members} - {None}
        self.judge_label = " | ".join(sorted(j for j in judges if j)) or None

    @property
    def extra_csv_keys(self) -> tuple[str, ...]:
        """Member error columns (a failed member records its error under its own name)."""
        return tuple(k for m in self.members for k in (f"{m.name}_error", f"{m.name}_error_kind"))

    def evaluate(self, inputs: dict[str, Any], ctx: EvalContext) -> dict[str, Any]:
        """Sequential fallback (the runner normally runs members as separate tasks)."""
        merged: dict[str, Any] = {}
        for m in self.members:
            try:
                merged.update(
                    m.evaluate({i.name: inputs[i.name] for i in m.inputs if i.name in inputs}, ctx)
                )
            except RowError as exc:
                merged[f"{m.name}_error"] = exc.message
                merged[f"{m.name}_error_kind"] = exc.kind
        return merged

    def describe_params(self) -> dict[str, Any]:
        return {m.name: m.describe_params() for m in self.members}

    def warm_up(self) -> None:
        """Warm members that need it (tokenizers)."""
        for m in self.members:
            warm = getattr(m, "warm_up", None)
            if callable(warm):
                warm()


def member_thresholds(
    spec: EvaluatorConfig, ctx: BuildContext, names: tuple[str, ...]
) -> dict[str, float]:
    """Per-member thresholds from ``threshold: {member: value}``."""
    t = spec.threshold
    if t is None:
        return {}
    if not isinstance(t, dict):
        raise ConfigError(
            f"evaluators.{ctx.alias}.threshold must map member names to numbers "
            f"(members: {', '.join(names)})",
            where=ctx.where("threshold"),
        )
    check_member_keys(t, ctx, names)
    return dict(t)


def check_member_keys(
    thresholds: dict[str, float], ctx: BuildContext, names: tuple[str, ...]
) -> None:
    """Every key of a per-member ``threshold`` mapping must name a member."""
    for key in thresholds:
        if key not in names:
            from evalcli.config import did_you_mean

            raise ConfigError(
                f"evaluators.{ctx.alias}.threshold: {key!r} is not a member",
                where=ctx.where("threshold", key, key=True),
                hint=did_you_mean(key, names) or f"members: {', '.join(names)}",
            )


def build_qa(alias: str, spec: EvaluatorConfig, ctx: BuildContext) -> Evaluator:
    """The ``qa`` composite: groundedness, relevance, coherence, fluency, similarity, F1."""
    from evalcli.evaluators.nlp import DEFAULT_THRESHOLD as NLP_T
    from evalcli.evaluators.nlp import F1Evaluator
    from evalcli.evaluators.quality import QUALITY_METRICS, build_quality

    names = QA_MEMBERS
    thresholds = member_thresholds(spec, ctx, names)
    if spec.params or spec.prompt:
        raise ConfigError(
            f"evaluators.{alias}: the qa composite takes no params or prompt",
            where=ctx.where(key=True),
        )
    member_spec = EvaluatorConfig(judge=spec.judge)
    metrics = {m.name: m for m in QUALITY_METRICS}
    members: list[Evaluator] = []
    for name in names:
        if name == "f1_score":
            t = thresholds.get(name, NLP_T)
            if not 0 <= t <= 1:
                raise ConfigError(
                    f"evaluators.{alias}.threshold.f1_score must be between 0 and 1",
                    where=ctx.where("threshold", "f1_score"),
                )
            members.append(F1Evaluator(alias, "f1_score", t))
        else:
            members.append(
                build_quality(
                    metrics[name], alias, member_spec, ctx, threshold=thresholds.get(name)
                )
            )
    return CompositeEvaluator(alias, "qa", tuple(members))


QA_MEMBERS = ("groundedness", "relevance", "coherence", "fluency", "similarity", "f1_score")

COMPOSITE_EVALUATORS: tuple[EvaluatorInfo, ...] = (
    EvaluatorInfo(
        "qa",
        Family.COMPOSITE,
        "groundedness, relevance, coherence, fluency, similarity (judge) and F1, each with its "
        "own threshold",
        (
            InputSpec("query"),
            InputSpec("response"),
            InputSpec("context"),
            InputSpec("ground_truth"),
        ),
        tuple(k for m in QA_MEMBERS for k in (m, f"{m}_result")),
        build_qa,
        None,
    ),
)
