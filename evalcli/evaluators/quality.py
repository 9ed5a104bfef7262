"""AI-assisted quality evaluators: a judge scores 1-5 against our own rubrics in prompts/."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evalcli.evaluators.base import (
    EvaluatorInfo,
    Family,
    InputSpec,
    OutputField,
    Outputs,
    Role,
)
from evalcli.evaluators.context import BuildContext, EvalContext
from evalcli.evaluators.judged import JudgedEvaluator, check_rubric, judge_fields
from evalcli.evaluators.params import JudgedParams, Threshold, check_threshold
from evalcli.evaluators.safety_common import text_input
from evalcli.judge.parse import ParseFailure, parse_score
from evalcli.yamlsrc import Loc

DEFAULT_THRESHOLD = 3.0
SCALE = (1.0, 5.0)  # the built-in rubrics' scale (a rubric given with prompt: sets its own)


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


class QualityParams(JudgedParams):
    """Settings of a judged quality metric: threshold (on the rubric's scale), judge, prompt."""

    threshold: Threshold | None = None


def score_fields(
    key: str,
    higher_is_better: bool = True,
    scale: tuple[float, float] | None = SCALE,
    default_threshold: float | None = DEFAULT_THRESHOLD,
    integer: bool = True,
) -> tuple[OutputField, ...]:
    """Outputs of a judged score on a rubric's scale (``integer``: the judge answers whole
    numbers, as every rubric with a ``min``/``max`` has it)."""
    return (
        OutputField(
            key,
            Role.SCORE,
            higher_is_better=higher_is_better,
            range=scale,
            default_threshold=default_threshold,
            integer=integer,
        ),
        OutputField(f"{key}_result", Role.RESULT, stem=key, primary=True),
        OutputField(f"{key}_threshold", Role.THRESHOLD, stem=key),
        OutputField(f"{key}_reason", Role.REASON, stem=key),
        *judge_fields(key),
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
            **self.bookkeeping(reply),
        }

    def describe_params(self) -> dict[str, Any]:
        return {"threshold": self.threshold, **super().describe_params()}


def build_quality(
    metric: QualityMetric,
    alias: str,
    params: QualityParams,
    ctx: BuildContext,
    loc: Loc = ("threshold",),
) -> JudgeScoreEvaluator:
    """Build a quality evaluator (also a member of the ``qa`` composite, whose per-member
    threshold sits at ``loc``)."""
    from evalcli.prompts import builtin_prompt_path

    prompt = ctx.rubric(params.prompt, builtin_prompt_path(metric.name))
    check_rubric(prompt, ctx, kind="score", needs=[i.name for i in metric.inputs if i.required])
    out = prompt.output
    assert out is not None and out.min is not None and out.max is not None  # checked above
    raw = params.threshold
    t = check_threshold(
        raw if raw is not None else (out.threshold or DEFAULT_THRESHOLD), out.min, out.max, ctx, loc
    )
    higher = out.direction == "higher"
    declared = set(prompt.inputs)
    return JudgeScoreEvaluator(
        alias,
        metric.name,
        metric.name,
        tuple(i for i in metric.inputs if i.name in declared),
        score_fields(metric.name, higher, (out.min, out.max), out.threshold or DEFAULT_THRESHOLD),
        prompt,
        ctx.judge(params.judge),
        threshold=t,
        lo=out.min,
        hi=out.max,
        higher=higher,
    )


def _factory(metric: QualityMetric) -> Any:
    def build(alias: str, params: QualityParams, ctx: BuildContext) -> JudgeScoreEvaluator:
        return build_quality(metric, alias, params, ctx)

    return build


QUALITY_EVALUATORS: tuple[EvaluatorInfo, ...] = tuple(
    EvaluatorInfo(
        m.name,
        Family.QUALITY,
        m.description + " (judge, 1-5)",
        m.inputs,
        score_fields(m.name),
        _factory(m),
        QualityParams,
    )
    for m in QUALITY_METRICS
)
