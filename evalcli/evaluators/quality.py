"""AI-assisted quality evaluators: a judge scores 1-5 against our own rubrics in prompts/."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evalcli.config import EvaluatorConfig
from evalcli.errors import ConfigError
from evalcli.evaluators.base import (
    EvaluatorInfo,
    Family,
    InputSpec,
    OutputField,
    Outputs,
    Role,
)
from evalcli.evaluators.context import BuildContext, EvalContext
from evalcli.evaluators.judged import (
    JudgedEvaluator,
    judge_client,
    load_rubric,
    resolve_prompt_path,
    sampling_params,
    token_fields,
)
from evalcli.evaluators.safety_common import text_input
from evalcli.judge.parse import ParseFailure, parse_score

DEFAULT_THRESHOLD = 3.0


@dataclass(frozen=True)
class QualityMetric:
    """A built-in judge metric: name (= result key and rubric file), inputs, description."""

    name: str
    inputs: tuple[InputSpec, ...]
    description: str


Q, R, C, G = (
    InputSpec("query"),
    InputSpec("response"),
    InputSpec("context"),
    InputSpec("ground_truth"),
)

QUALITY_METRICS: tuple[QualityMetric, ...] = (
    QualityMetric(
        "groundedness",
        (R, C, InputSpec("query", required=False)),
        "Is every claim in the response supported by the context?",
    ),
    QualityMetric("relevance", (Q, R), "Does the response address what the query asks?"),
    QualityMetric("coherence", (Q, R), "Is the response logically organised and easy to follow?"),
    QualityMetric("fluency", (R,), "Is the response well-formed, grammatical, natural language?"),
    QualityMetric("similarity", (Q, R, G), "How close is the response to the ground truth?"),
    QualityMetric("retrieval", (Q, C), "Is the retrieved context relevant to the query?"),
    QualityMetric(
        "response_completeness", (R, G), "Does the response cover everything in the ground truth?"
    ),
)


def score_fields(key: str, higher_is_better: bool = True) -> tuple[OutputField, ...]:
    """Outputs of a 1-5 judged score."""
    return (
        OutputField(key, Role.SCORE, higher_is_better=higher_is_better),
        OutputField(f"{key}_result", Role.RESULT, stem=key, primary=True),
        OutputField(f"{key}_threshold", Role.THRESHOLD),
        OutputField(f"{key}_reason", Role.REASON),
        *token_fields(key),
        OutputField(f"{key}_prompt_sha256", Role.INFO),
    )


class JudgeScoreEvaluator(JudgedEvaluator):
    """A judged score on the rubric's scale; pass when at/above (or at/below) the threshold."""

    def __init__(self, *args: Any, threshold: float, lo: int, hi: int, higher: bool, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.threshold, self.lo, self.hi, self.higher = threshold, lo, hi, higher

    def evaluate(self, inputs: dict[str, Any], ctx: EvalContext) -> Outputs:
        for spec in self.inputs:
            if spec.kind == "text" and spec.name in inputs:
                text_input(inputs, spec.name)  # a number or null is a row error, not a prompt
        reply = self.ask(inputs, ctx)
        parsed = parse_score(reply.text, lo=self.lo, hi=self.hi)
        if isinstance(parsed, ParseFailure):
            raise self.unscored(parsed.kind, parsed.message, reply)
        k = self.key
        passed = parsed.score >= self.threshold if self.higher else parsed.score <= self.threshold
        return {
            k: parsed.score,
            f"{k}_result": "pass" if passed else "fail",
            f"{k}_threshold": self.threshold,
            f"{k}_reason": parsed.reason,
            **self.usage(reply),
            f"{k}_prompt_sha256": self.prompt_sha256,
        }

    def describe_params(self) -> dict[str, Any]:
        return {"threshold": self.threshold, **super().describe_params()}


def check_threshold(
    value: Any, lo: float, hi: float, ctx: BuildContext, loc: tuple[str | int, ...] = ("threshold",)
) -> float:
    """A numeric threshold inside the evaluator's scale, or a ConfigError at its key."""
    if isinstance(value, dict):
        raise ConfigError(
            f"evaluators.{ctx.alias}.threshold must be a single number", where=ctx.where(*loc)
        )
    if not lo <= float(value) <= hi:
        raise ConfigError(
            f"evaluators.{ctx.alias}.threshold must be between {lo:g} and {hi:g} "
            f"(the scale of this evaluator), got {value}",
            where=ctx.where(*loc),
        )
    return float(value)


def build_quality(
    metric: QualityMetric,
    alias: str,
    spec: EvaluatorConfig,
    ctx: BuildContext,
    threshold: Any = None,
) -> JudgeScoreEvaluator:
    """Build a quality evaluator (also used by the ``qa`` composite)."""
    from evalcli.prompts import builtin_prompt_path

    if spec.params:
        first = next(iter(spec.params))
        raise ConfigError(
            f"unknown key 'evaluators.{alias}.params.{first}' ({metric.name} takes "
            "no params; use threshold, columns, judge or prompt)",
            where=ctx.where("params", first, key=True),
        )
    path = resolve_prompt_path(spec, ctx, builtin_prompt_path(metric.name))
    prompt = load_rubric(path, ctx.where("prompt") if spec.prompt else None)
    out = prompt.output
    if out is None or out.kind != "score" or out.min is None or out.max is None:
        raise ConfigError(
            f"the rubric {path} must declare a score output (output: kind: score, min, max)",
            where=ctx.where("prompt"),
        )
    declared = set(prompt.inputs)
    needed = {i.name for i in metric.inputs if i.required}
    if not needed <= declared:
        raise ConfigError(
            f"the rubric {path} must declare the inputs {', '.join(sorted(needed - declared))}",
            where=ctx.where("prompt"),
        )
    raw = threshold if threshold is not None else spec.threshold
    t = check_threshold(
        raw if raw is not None else (out.threshold or DEFAULT_THRESHOLD), out.min, out.max, ctx
    )
    client, cfg = judge_client(ctx)
    inputs = tuple(i for i in metric.inputs if i.name in declared)
    return JudgeScoreEvaluator(
        alias,
        metric.name,
        metric.name,
        inputs,
        score_fields(metric.name, out.direction == "higher"),
        prompt,
        client,
        sampling_params(prompt, cfg),
        threshold=t,
        lo=out.min,
        hi=out.max,
        higher=out.direction == "higher",
    )


def _factory(metric: QualityMetric) -> Any:
    def build(alias: str, spec: EvaluatorConfig, ctx: BuildContext) -> JudgeScoreEvaluator:
        return build_quality(metric, alias, spec, ctx)

    return build


def _outputs(key: str) -> tuple[str, ...]:
    return (key, f"{key}_result", f"{key}_threshold", f"{key}_reason")


QUALITY_EVALUATORS: tuple[EvaluatorInfo, ...] = tuple(
    EvaluatorInfo(
        m.name,
        Family.QUALITY,
        m.description + " (judge, 1-5)",
        m.inputs,
        _outputs(m.name),
        _factory(m),
        DEFAULT_THRESHOLD,
    )
    for m in QUALITY_METRICS
)
