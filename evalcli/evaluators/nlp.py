"""NLP evaluators (no model): F1, BLEU, GLEU, METEOR and ROUGE, equal to the reference SDK.

The algorithms live in :mod:`evalcli.nlp`; this module adds thresholds, result keys and
parameter validation. These evaluators are CPU-bound and run in the runner's process pool.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalcli.config import EvaluatorConfig, pydantic_to_config_error
from evalcli.errors import ConfigError, RowError
from evalcli.evaluators.base import (
    Evaluator,
    EvaluatorInfo,
    Family,
    InputSpec,
    OutputField,
    Outputs,
    Role,
)
from evalcli.evaluators.context import BuildContext, EvalContext
from evalcli.nlp import NLTK_NEEDS as NLTK_NEEDS  # NLTK packages each one needs (plan.py checks)

DEFAULT_THRESHOLD = 0.5
TEXT_INPUTS = (InputSpec("response"), InputSpec("ground_truth"))


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MeteorParams(_Params):
    """METEOR weights (reference defaults)."""

    alpha: float = Field(0.9, ge=0.0, le=1.0)
    beta: float = Field(3.0, ge=0.0)
    gamma: float = Field(0.5, ge=0.0, le=1.0)


class RougeParams(_Params):
    """ROUGE variant and per-measure thresholds."""

    rouge_type: Literal["rouge1", "rouge2", "rouge3", "rouge4", "rouge5", "rougeL"]
    precision_threshold: float = Field(DEFAULT_THRESHOLD, ge=0.0, le=1.0)
    recall_threshold: float = Field(DEFAULT_THRESHOLD, ge=0.0, le=1.0)
    f1_score_threshold: float | None = Field(None, ge=0.0, le=1.0)


def _parse_params(model: type[_Params], spec: EvaluatorConfig, ctx: BuildContext) -> Any:
    try:
        return model.model_validate(spec.params)
    except ValidationError as exc:
        err = pydantic_to_config_error(
            exc, ctx.loaded.source, model, prefix=("evaluators", ctx.alias, "params")
        )
        if "missing required key" in err.message and model is RougeParams:
            err.hint = "set params.rouge_type to one of rouge1..rouge5 or rougeL"
        raise err from None


def _threshold(
    spec: EvaluatorConfig, ctx: BuildContext, default: float = DEFAULT_THRESHOLD
) -> float:
    t = spec.threshold
    if t is None:
        return default
    if isinstance(t, dict):
        raise ConfigError(
            f"evaluators.{ctx.alias}.threshold must be a single number for this evaluator",
            where=ctx.where("threshold"),
        )
    if not 0.0 <= t <= 1.0:
        raise ConfigError(
            f"evaluators.{ctx.alias}.threshold must be between 0 and 1 "
            f"(scores of this evaluator are 0-1), got {t}",
            where=ctx.where("threshold"),
        )
    return float(t)


def _text(inputs: dict[str, Any], name: str) -> str:
    value = inputs[name]
    if not isinstance(value, str):
        kind = "null" if value is None else type(value).__name__
        raise RowError("bad-input", f"input {name!r} must be text, got {kind}")
    return value


def _score_fields(key: str) -> tuple[OutputField, ...]:
    return (
        OutputField(key, Role.SCORE, higher_is_better=True),
        OutputField(f"{key}_result", Role.RESULT, stem=key, primary=True),
        OutputField(f"{key}_threshold", Role.THRESHOLD),
        OutputField(f"{key}_reason", Role.REASON),
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
        super().__init__(alias, name, TEXT_INPUTS, _score_fields(self.key))
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

    def __init__(self, alias: str, name: str, threshold: float, params: MeteorParams):
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

    def __init__(self, alias: str, name: str, params: RougeParams, f_threshold: float):
        outputs = (
            *_score_fields("rouge"),
            OutputField("rouge_precision", Role.SCORE, higher_is_better=True),
            OutputField("rouge_recall", Role.SCORE, higher_is_better=True),
            OutputField("rouge_f1_score", Role.SCORE, higher_is_better=True),
            OutputField("rouge_precision_result", Role.RESULT, stem="rouge_precision"),
            OutputField("rouge_recall_result", Role.RESULT, stem="rouge_recall"),
            OutputField("rouge_f1_score_result", Role.RESULT, stem="rouge_f1_score"),
            OutputField("rouge_precision_threshold", Role.THRESHOLD),
            OutputField("rouge_recall_threshold", Role.THRESHOLD),
            OutputField("rouge_f1_score_threshold", Role.THRESHOLD),
        )
        super().__init__(alias, name, TEXT_INPUTS, outputs)
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
    def build(alias: str, spec: EvaluatorConfig, ctx: BuildContext) -> Evaluator:
        _parse_params(_Params, spec, ctx)  # these metrics take no params: reject typos
        return cls(alias, cls.key, _threshold(spec, ctx))

    return build


def _meteor_factory(alias: str, spec: EvaluatorConfig, ctx: BuildContext) -> Evaluator:
    return MeteorEvaluator(
        alias, "meteor", _threshold(spec, ctx), _parse_params(MeteorParams, spec, ctx)
    )


def _rouge_factory(alias: str, spec: EvaluatorConfig, ctx: BuildContext) -> Evaluator:
    params: RougeParams = _parse_params(RougeParams, spec, ctx)
    if params.f1_score_threshold is not None and spec.threshold is not None:
        raise ConfigError(
            f"evaluators.{alias}: set either threshold or params.f1_score_threshold, not both",
            where=ctx.where("threshold"),
        )
    f_t = (
        params.f1_score_threshold
        if params.f1_score_threshold is not None
        else _threshold(spec, ctx)
    )
    return RougeEvaluator(alias, "rouge", params, f_t)


_NLP_OUT = ("{k}", "{k}_result", "{k}_threshold", "{k}_reason")


def _outs(key: str) -> tuple[str, ...]:
    return tuple(o.format(k=key) for o in _NLP_OUT)


NLP_EVALUATORS: tuple[EvaluatorInfo, ...] = (
    EvaluatorInfo(
        "f1_score",
        Family.NLP,
        "Token-overlap F1 between response and ground truth",
        TEXT_INPUTS,
        _outs("f1_score"),
        _simple_factory(F1Evaluator),
        DEFAULT_THRESHOLD,
    ),
    EvaluatorInfo(
        "bleu",
        Family.NLP,
        "Sentence BLEU (4-gram, smoothing method 4)",
        TEXT_INPUTS,
        _outs("bleu"),
        _simple_factory(BleuEvaluator),
        DEFAULT_THRESHOLD,
    ),
    EvaluatorInfo(
        "gleu",
        Family.NLP,
        "Sentence GLEU (Google BLEU, 1- to 4-grams)",
        TEXT_INPUTS,
        _outs("gleu"),
        _simple_factory(GleuEvaluator),
        DEFAULT_THRESHOLD,
    ),
    EvaluatorInfo(
        "meteor",
        Family.NLP,
        "METEOR with stem and WordNet synonym matching",
        TEXT_INPUTS,
        _outs("meteor"),
        _meteor_factory,
        DEFAULT_THRESHOLD,
    ),
    EvaluatorInfo(
        "rouge",
        Family.NLP,
        "ROUGE-N/ROUGE-L precision, recall and F (params.rouge_type required)",
        TEXT_INPUTS,
        (*_outs("rouge"), "rouge_precision", "rouge_recall", "rouge_f1_score"),
        _rouge_factory,
        DEFAULT_THRESHOLD,
    ),
)
