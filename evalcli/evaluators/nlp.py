"""NLP evaluators (no model): F1, BLEU, GLEU, METEOR and ROUGE, equal to the reference SDK.

The algorithms live in :mod:`evalcli.nlp`; this module adds thresholds, result keys and
parameter validation. These evaluators are CPU-bound and run in the runner's process pool.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from evalcli.errors import RowError
from evalcli.evaluators.base import (
    Evaluator,
    EvaluatorInfo,
    EvaluatorParams,
    Family,
    InputSpec,
    OutputField,
    Outputs,
    Role,
)
from evalcli.evaluators.context import BuildContext, EvalContext
from evalcli.evaluators.declaration import Options
from evalcli.evaluators.params import Threshold, check_threshold

# NLTK packages each one needs (plan.py checks)
from evalcli.nlp._resources import NLTK_NEEDS as NLTK_NEEDS

DEFAULT_THRESHOLD = 0.5
UNIT = (0.0, 1.0)  # every NLP score is 0-1
TEXT_INPUTS = (InputSpec("response"), InputSpec("ground_truth"))


class NlpParams(EvaluatorParams):
    """Settings of F1, BLEU and GLEU: the pass threshold (0-1)."""

    threshold: Threshold | None = None


class MeteorOptions(Options):
    """METEOR weights (reference defaults)."""

    alpha: float = Field(default=0.9, ge=0.0, le=1.0)
    beta: float = Field(default=3.0, ge=0.0)
    gamma: float = Field(default=0.5, ge=0.0, le=1.0)


class MeteorParams(NlpParams):
    """Settings of METEOR: the threshold and ``params`` (weights)."""

    params: MeteorOptions = Field(default_factory=MeteorOptions)


class RougeOptions(Options):
    """ROUGE variant and per-measure thresholds."""

    rouge_type: Literal["rouge1", "rouge2", "rouge3", "rouge4", "rouge5", "rougeL"] = Field(
        description="one of rouge1..rouge5 or rougeL"
    )
    precision_threshold: float = Field(DEFAULT_THRESHOLD, ge=0.0, le=1.0)
    recall_threshold: float = Field(DEFAULT_THRESHOLD, ge=0.0, le=1.0)
    f1_score_threshold: float | None = Field(None, ge=0.0, le=1.0)


class RougeParams(NlpParams):
    """Settings of ROUGE: ``threshold`` (of the F-measure) and ``params`` (required)."""

    params: RougeOptions = Field(description="{rouge_type: rouge1..rouge5 or rougeL}")

    @model_validator(mode="after")
    def _one_f_threshold(self) -> RougeParams:
        if self.threshold is not None and self.params.f1_score_threshold is not None:
            raise ValueError("set either threshold or params.f1_score_threshold, not both")
        return self


def _threshold(value: float | None, ctx: BuildContext) -> float:
    if value is None:
        return DEFAULT_THRESHOLD
    return check_threshold(value, *UNIT, ctx)


def _text(inputs: dict[str, Any], name: str) -> str:
    value = inputs[name]
    if not isinstance(value, str):
        kind = "null" if value is None else type(value).__name__
        raise RowError("bad-input", f"input {name!r} must be text, got {kind}")
    return value


def score_fields(key: str) -> tuple[OutputField, ...]:
    """Outputs of a 0-1 NLP score (higher is better) with its pass/fail."""
    return (
        OutputField(
            key,
            Role.SCORE,
            higher_is_better=True,
            range=UNIT,
            default_threshold=DEFAULT_THRESHOLD,
        ),
        OutputField(f"{key}_result", Role.RESULT, stem=key, primary=True),
        OutputField(f"{key}_threshold", Role.THRESHOLD, stem=key),
        OutputField(f"{key}_reason", Role.REASON, stem=key),
    )


def _measure(key: str) -> tuple[OutputField, ...]:
    """A secondary ROUGE measure: its score, pass/fail and threshold."""
    return (
        OutputField(
            key, Role.SCORE, higher_is_better=True, range=UNIT, default_threshold=DEFAULT_THRESHOLD
        ),
        OutputField(f"{key}_result", Role.RESULT, stem=key),
        OutputField(f"{key}_threshold", Role.THRESHOLD, stem=key),
    )


_MEASURES = tuple(_measure(k) for k in ("rouge_precision", "rouge_recall", "rouge_f1_score"))
# The CSV column order of results files: scores, then results, then thresholds.
ROUGE_FIELDS: tuple[OutputField, ...] = (
    *score_fields("rouge"),
    *(m[i] for i in range(3) for m in _MEASURES),
)


def _verdict(key: str, score: float, threshold: float) -> Outputs:
    return {
        key: score,
        f"{key}_result": "pass" if score >= threshold else "fail",
        f"{key}_threshold": threshold,
        f"{key}_reason": None,
    }


class _SimpleNlp(Evaluator):
    """Base for single-score NLP metrics over (response, ground_truth)."""

    execution = "cpu"
    key = ""

    def __init__(self, alias: str, name: str, threshold: float):
        super().__init__(alias, name, TEXT_INPUTS, score_fields(self.key))
        self.threshold = threshold

    def evaluate(self, inputs: dict[str, Any], ctx: EvalContext) -> Outputs:
        response, truth = _text(inputs, "response"), _text(inputs, "ground_truth")
        return _verdict(self.key, float(self.score(response, truth, ctx)), self.threshold)

    def score(self, response: str, truth: str, ctx: EvalContext) -> float:
        raise NotImplementedError

    def describe_params(self) -> dict[str, Any]:
        return {"threshold": self.threshold}

    def warm_up(self) -> None:
        """Load tokenizers and data now (before the runner forks its workers)."""
        from evalcli.nlp import preload

        preload([self.key])


class F1Evaluator(_SimpleNlp):
    """Token-overlap F1 after SQuAD-style normalisation."""

    key = "f1_score"

    def score(self, response: str, truth: str, ctx: EvalContext) -> float:
        from evalcli.nlp import f1_score

        return f1_score(response, truth)


class BleuEvaluator(_SimpleNlp):
    """Sentence BLEU (4-gram, smoothing method 4)."""

    key = "bleu"

    def score(self, response: str, truth: str, ctx: EvalContext) -> float:
        from evalcli.nlp import bleu

        return bleu(ctx.tokens(response), ctx.tokens(truth))


class GleuEvaluator(_SimpleNlp):
    """Sentence GLEU (1- to 4-grams)."""

    key = "gleu"

    def score(self, response: str, truth: str, ctx: EvalContext) -> float:
        from evalcli.nlp import gleu

        return gleu(ctx.tokens(response), ctx.tokens(truth))


class MeteorEvaluator(_SimpleNlp):
    """METEOR with exact, stem and WordNet-synonym matching."""

    key = "meteor"

    def __init__(self, alias: str, name: str, threshold: float, params: MeteorOptions):
        super().__init__(alias, name, threshold)
        self.params = params

    def score(self, response: str, truth: str, ctx: EvalContext) -> float:
        from evalcli.nlp import meteor

        p = self.params
        return meteor(
            ctx.tokens(response), ctx.tokens(truth), alpha=p.alpha, beta=p.beta, gamma=p.gamma
        )

    def describe_params(self) -> dict[str, Any]:
        return {"threshold": self.threshold, **self.params.model_dump()}


class RougeEvaluator(Evaluator):
    """ROUGE-N / ROUGE-L precision, recall and F-measure (headline: F-measure)."""

    execution = "cpu"

    def __init__(self, alias: str, name: str, params: RougeOptions, f_threshold: float):
        super().__init__(alias, name, TEXT_INPUTS, ROUGE_FIELDS)
        self.params = params
        self.f_threshold = f_threshold

    def evaluate(self, inputs: dict[str, Any], ctx: EvalContext) -> Outputs:
        from evalcli.nlp import rouge

        response, truth = _text(inputs, "response"), _text(inputs, "ground_truth")
        precision, recall, fmeasure = rouge(response, truth, self.params.rouge_type)
        p_t, r_t, f_t = (
            self.params.precision_threshold,
            self.params.recall_threshold,
            self.f_threshold,
        )
        out = _verdict("rouge", fmeasure, f_t)
        out.update(
            {
                "rouge_precision": precision,
                "rouge_recall": recall,
                "rouge_f1_score": fmeasure,
                "rouge_precision_result": "pass" if precision >= p_t else "fail",
                "rouge_recall_result": "pass" if recall >= r_t else "fail",
                "rouge_f1_score_result": "pass" if fmeasure >= f_t else "fail",
                "rouge_precision_threshold": p_t,
                "rouge_recall_threshold": r_t,
                "rouge_f1_score_threshold": f_t,
            }
        )
        return out

    def describe_params(self) -> dict[str, Any]:
        return {**self.params.model_dump(), "f1_score_threshold": self.f_threshold}

    def warm_up(self) -> None:
        """Prepare ROUGE's tables now (before the runner forks its workers)."""
        from evalcli.nlp import preload

        preload(["rouge"])


def _simple_factory(cls: type[_SimpleNlp]) -> Any:
    def build(alias: str, params: NlpParams, ctx: BuildContext) -> Evaluator:
        return cls(alias, cls.key, _threshold(params.threshold, ctx))

    return build


def _meteor_factory(alias: str, params: MeteorParams, ctx: BuildContext) -> Evaluator:
    return MeteorEvaluator(alias, "meteor", _threshold(params.threshold, ctx), params.params)


def _rouge_factory(alias: str, params: RougeParams, ctx: BuildContext) -> Evaluator:
    own = params.params.f1_score_threshold
    f_t = own if own is not None else _threshold(params.threshold, ctx)
    return RougeEvaluator(alias, "rouge", params.params, f_t)


NLP_EVALUATORS: tuple[EvaluatorInfo, ...] = (
    EvaluatorInfo(
        "f1_score",
        Family.NLP,
        "Token-overlap F1 between response and ground truth",
        TEXT_INPUTS,
        score_fields("f1_score"),
        _simple_factory(F1Evaluator),
        NlpParams,
    ),
    EvaluatorInfo(
        "bleu",
        Family.NLP,
        "Sentence BLEU (4-gram, smoothing method 4)",
        TEXT_INPUTS,
        score_fields("bleu"),
        _simple_factory(BleuEvaluator),
        NlpParams,
    ),
    EvaluatorInfo(
        "gleu",
        Family.NLP,
        "Sentence GLEU (Google BLEU, 1- to 4-grams)",
        TEXT_INPUTS,
        score_fields("gleu"),
        _simple_factory(GleuEvaluator),
        NlpParams,
    ),
    EvaluatorInfo(
        "meteor",
        Family.NLP,
        "METEOR with stem and WordNet synonym matching",
        TEXT_INPUTS,
        score_fields("meteor"),
        _meteor_factory,
        MeteorParams,
    ),
    EvaluatorInfo(
        "rouge",
        Family.NLP,
        "ROUGE-N/ROUGE-L precision, recall and F (params.rouge_type required)",
        TEXT_INPUTS,
        ROUGE_FIELDS,
        _rouge_factory,
        RougeParams,
    ),
)
