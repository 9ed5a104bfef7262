"""evalcli-plugin-demo: two third-party evaluators registered through the entry point.

evalcli calls :func:`register` (the object of the ``evalcli.evaluators`` entry point) with its
registry. Everything here is imported from :mod:`evalcli.plugin`, the public plugin API.

* ``exclamation_count`` counts exclamation marks (``params.marks`` chooses the characters) in
  the response; a row passes while the count is at most the threshold (default 1). Pure and
  cheap, so it runs in the process pool (``execution = "cpu"``).
* ``politeness`` asks the run's judge (or its own ``judge:``) to rate the response's politeness
  from 1 to 5 with the rubric shipped in this package (or the file given as ``prompt:``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from evalcli.plugin import (
    BuildContext,
    EvalContext,
    Evaluator,
    EvaluatorInfo,
    EvaluatorParams,
    Family,
    Field,
    InputSpec,
    Judge,
    JudgedEvaluator,
    JudgedParams,
    Options,
    OutputField,
    Outputs,
    ParseFailure,
    Registry,
    Role,
    RowError,
    Rubric,
    Threshold,
    check_threshold,
    judge_fields,
    parse_score,
)

COUNT = "exclamation_count"
POLITENESS = "politeness"
RESPONSE = (InputSpec("response"),)


# -- exclamation_count: a CPU evaluator with typed settings ------------------------------------


class MarkOptions(Options):
    """``params`` of exclamation_count."""

    marks: str = Field(default="!", min_length=1, description="the characters counted")


class CountParams(EvaluatorParams):
    """Settings of exclamation_count: the pass threshold (a count) and ``params``."""

    threshold: Threshold | None = None
    params: MarkOptions = Field(default_factory=MarkOptions)


COUNT_FIELDS = (
    OutputField(COUNT, Role.SCORE, higher_is_better=False, default_threshold=1.0),
    OutputField(f"{COUNT}_result", Role.RESULT, stem=COUNT, primary=True),
    OutputField(f"{COUNT}_threshold", Role.THRESHOLD, stem=COUNT),
)


class ExclamationCount(Evaluator):
    """Counts the marks in the response; pure and cheap, so it may run in the CPU pool."""

    execution = "cpu"

    def __init__(self, alias: str, threshold: float, marks: str):
        super().__init__(alias, COUNT, RESPONSE, COUNT_FIELDS)
        self.threshold = threshold
        self.marks = marks

    def evaluate(self, inputs: dict[str, Any], ctx: EvalContext) -> Outputs:
        response = inputs["response"]
        if not isinstance(response, str):
            raise RowError("bad-input", f"response must be text, got {type(response).__name__}")
        count = sum(response.count(mark) for mark in self.marks)
        return {
            COUNT: count,
            f"{COUNT}_result": "pass" if count <= self.threshold else "fail",
            f"{COUNT}_threshold": self.threshold,
        }

    def describe_params(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "marks": self.marks}


def build_count(alias: str, params: CountParams, ctx: BuildContext) -> Evaluator:
    """Factory of exclamation_count."""
    threshold = 1.0 if params.threshold is None else params.threshold
    return ExclamationCount(
        alias, check_threshold(threshold, 0, math.inf, ctx), params.params.marks
    )


# -- politeness: a judged evaluator with its own rubric ------------------------------------------

RUBRIC = Path(__file__).with_name("politeness.prompty")

POLITENESS_FIELDS = (
    OutputField(
        POLITENESS,
        Role.SCORE,
        higher_is_better=True,
        range=(1, 5),
        integer=True,  # whole grades: report.html draws one bar per grade
        default_threshold=3.0,
    ),
    OutputField(f"{POLITENESS}_result", Role.RESULT, stem=POLITENESS, primary=True),
    OutputField(f"{POLITENESS}_threshold", Role.THRESHOLD, stem=POLITENESS),
    OutputField(f"{POLITENESS}_reason", Role.REASON, stem=POLITENESS),
    *judge_fields(POLITENESS),
)


class PolitenessParams(JudgedParams):
    """Settings of politeness: threshold (1-5), and the inherited ``judge`` and ``prompt``."""

    threshold: Threshold | None = None


class Politeness(JudgedEvaluator):
    """The judge's 1-5 politeness score; a row passes at or above the threshold."""

    def __init__(self, alias: str, rubric: Rubric, judge: Judge, threshold: float):
        super().__init__(alias, POLITENESS, POLITENESS, RESPONSE, POLITENESS_FIELDS, rubric, judge)
        self.threshold = threshold

    def evaluate(self, inputs: dict[str, Any], ctx: EvalContext) -> Outputs:
        reply = self.ask(inputs, ctx)
        answer = parse_score(reply.text, lo=1, hi=5)
        if isinstance(answer, ParseFailure):
            raise self.unscored(answer.kind, answer.message, reply)  # unscored, not failed
        return {
            POLITENESS: answer.score,
            f"{POLITENESS}_result": "pass" if answer.score >= self.threshold else "fail",
            f"{POLITENESS}_threshold": self.threshold,
            f"{POLITENESS}_reason": answer.reason,
            **self.bookkeeping(reply),
        }

    def describe_params(self) -> dict[str, Any]:
        return {"threshold": self.threshold, **super().describe_params()}


def build_politeness(alias: str, params: PolitenessParams, ctx: BuildContext) -> Evaluator:
    """Factory of politeness: the rubric, the judge, and the threshold on the 1-5 scale."""
    rubric = ctx.rubric(params.prompt, RUBRIC)
    threshold = 3.0 if params.threshold is None else check_threshold(params.threshold, 1, 5, ctx)
    return Politeness(alias, rubric, ctx.judge(params.judge), threshold)


def register(registry: Registry) -> None:
    """Entry point: add this plugin's evaluators to evalcli's registry."""
    registry.add(
        EvaluatorInfo(
            COUNT,
            Family.CUSTOM,
            "Number of exclamation marks in the response (lower is better)",
            RESPONSE,
            COUNT_FIELDS,
            build_count,
            CountParams,
        )
    )
    registry.add(
        EvaluatorInfo(
            POLITENESS,
            Family.QUALITY,
            "How polite the response is (judge, 1-5, higher is better)",
            RESPONSE,
            POLITENESS_FIELDS,
            build_politeness,
            PolitenessParams,
        )
    )
