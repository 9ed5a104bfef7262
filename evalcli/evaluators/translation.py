"""sacrebleu evaluators: ``chrf`` (chrF / chrF++), ``ter`` and ``sacrebleu`` (BLEU).

The numbers come from sacrebleu itself (:mod:`evalcli.metrics.sacrebleu_metrics`); this
module adds settings, thresholds and result keys. Each row gets sacrebleu's sentence score
(``<name>``, 0-100; TER is lower-is-better and can exceed 100) and its sufficient statistics
(``<name>_stats``), from which the aggregator computes ``<alias>.corpus_<name>`` the way
sacrebleu's ``corpus_score`` does: statistics summed over the rows, then the formula once.

``ground_truth`` may be one reference or a list of them (rows may differ in how many they
have), as sacrebleu supports; for the other NLP metrics a list stays a row error.

sacrebleu is imported on first use (warm-up or the first row), never at registration.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field, StrictBool, StrictInt, field_validator

from evalcli.errors import ConfigError, RowError
from evalcli.evaluators.base import Evaluator
from evalcli.evaluators.context import BuildContext, EvalContext
from evalcli.evaluators.declaration import (
    EvaluatorInfo,
    EvaluatorParams,
    Family,
    InputSpec,
    Options,
    OutputField,
    Outputs,
    Role,
)
from evalcli.evaluators.params import Threshold, check_threshold
from evalcli.metrics.sacrebleu_metrics import SacreBleuMetric

#: Sentence-level pass thresholds on sacrebleu's 0-100 scale (TER passes at or below).
DEFAULT_THRESHOLDS = {"chrf": 50.0, "ter": 50.0, "sacrebleu": 30.0}
#: The metric of :class:`SacreBleuMetric` behind each evaluator.
METRIC_OF = {"chrf": "chrf", "ter": "ter", "sacrebleu": "bleu"}
INPUTS = (InputSpec("response"), InputSpec("ground_truth", kind="texts"))
#: The ``reducer`` name recorded in ``metric_info`` (a key of ``evalcli.corpus.REBUILDERS``).
REDUCER = "sacrebleu"


class ChrfOptions(Options):
    """chrF parameters (sacrebleu's defaults): ``word_order: 2`` gives chrF++."""

    char_order: StrictInt = Field(default=6, ge=1, le=20)
    word_order: StrictInt = Field(default=0, ge=0, le=10)
    beta: StrictInt = Field(default=2, ge=0, le=100)
    lowercase: StrictBool = False
    whitespace: StrictBool = False


class TerOptions(Options):
    """TER parameters (sacrebleu's defaults)."""

    normalized: StrictBool = False
    no_punct: StrictBool = False
    asian_support: StrictBool = False
    case_sensitive: StrictBool = False


class BleuOptions(Options):
    """BLEU parameters (sacrebleu's defaults); ``ja-mecab`` needs ``sacrebleu[ja]``."""

    tokenize: Literal["13a", "intl", "zh", "ja-mecab", "char", "none"] = "13a"
    smooth_method: Literal["none", "floor", "add-k", "exp"] = "exp"
    smooth_value: float | None = Field(default=None, ge=0.0)
    lowercase: StrictBool = False

    @field_validator("smooth_value", mode="before")
    @classmethod
    def _no_boolean(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a number, not a boolean")
        return value


class ChrfParams(EvaluatorParams):
    """Settings of ``chrf``: the pass threshold (0-100) and ``params``."""

    threshold: Threshold | None = None
    params: ChrfOptions = Field(default_factory=ChrfOptions)


class TerParams(EvaluatorParams):
    """Settings of ``ter``: the pass threshold (an edit rate; pass at or below) and ``params``."""

    threshold: Threshold | None = None
    params: TerOptions = Field(default_factory=TerOptions)


class BleuParams(EvaluatorParams):
    """Settings of ``sacrebleu``: the pass threshold (0-100) and ``params``."""

    threshold: Threshold | None = None
    params: BleuOptions = Field(default_factory=BleuOptions)


def sacrebleu_fields(key: str) -> tuple[OutputField, ...]:
    """The outputs of one sacrebleu evaluator named ``key``."""
    higher = key != "ter"
    return (
        OutputField(
            key,
            Role.SCORE,
            higher_is_better=higher,
            range=(0.0, 100.0) if higher else None,
            default_threshold=DEFAULT_THRESHOLDS[key],
        ),
        OutputField(f"{key}_result", Role.RESULT, stem=key, primary=True),
        OutputField(f"{key}_threshold", Role.THRESHOLD, stem=key),
        OutputField(f"{key}_stats", Role.CORPUS_STATS, stem=key, higher_is_better=higher),
        OutputField(f"{key}_refs", Role.INFO, stem=key),  # references of the row
    )


def _references(value: object) -> str | list[str]:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    if isinstance(value, list):
        what = "an empty list" if not value else "a list holding non-text values"
    else:
        what = "null" if value is None else type(value).__name__
    raise RowError(
        "bad-input", f"input 'ground_truth' must be text or a non-empty list of texts, got {what}"
    )


class SacreBleuCorpus:
    """The corpus reducer of a sacrebleu evaluator: summed statistics -> ``corpus_score``.

    It also notes how many references the rows had, for sacrebleu's signature (``nrefs``).
    """

    def __init__(self, metric: SacreBleuMetric) -> None:
        self.metric = metric
        self.ref_counts: set[int] = set()

    def score(self, totals: Sequence[float]) -> float | None:
        """sacrebleu's formula on the totals (the one-row table sums to the totals as is)."""
        return self.metric.corpus_score([list(totals)])

    def merge(self, other: SacreBleuCorpus) -> None:
        """Add what another reducer of the same metric observed (Spark: another task)."""
        self.ref_counts |= other.ref_counts

    def observe(self, outputs: dict[str, Any]) -> None:
        """Note the row's number of references."""
        refs = outputs.get(f"{_key_of(self.metric)}_refs")
        if isinstance(refs, int) and not isinstance(refs, bool):
            self.ref_counts.add(refs)

    def describe(self) -> dict[str, Any]:
        """The metric and its parameters (to rebuild it), sacrebleu's name of the score and
        its signatures: of the corpus score and of the sentence scores."""
        out: dict[str, Any] = {
            "reducer": REDUCER,
            "metric": self.metric.metric,
            "params": dict(self.metric.params),
            "score_name": self.metric.score_name,
        }
        if self.ref_counts:
            out["signature"] = self.metric.signature(self.ref_counts)
            out["sentence_signature"] = self.metric.signature(self.ref_counts, sentence=True)
        return out


def _key_of(metric: SacreBleuMetric) -> str:
    return "sacrebleu" if metric.metric == "bleu" else metric.metric


def reducer_from_description(description: dict[str, Any]) -> SacreBleuCorpus:
    """Rebuild the reducer recorded in ``metric_info`` (used by ``compare``).

    Raises:
        ValueError: the description does not name a sacrebleu metric with valid parameters.
    """
    params = description.get("params")
    if not isinstance(params, dict):
        raise ValueError("the sacrebleu corpus description has no params")
    return SacreBleuCorpus(SacreBleuMetric(str(description.get("metric")), params))


class SacreBleuEvaluator(Evaluator):
    """One sacrebleu metric: sentence score, pass/fail, statistics for the corpus score."""

    execution = "cpu"

    def __init__(self, alias: str, name: str, metric: SacreBleuMetric, threshold: float):
        super().__init__(alias, name, INPUTS, sacrebleu_fields(name))
        self.metric = metric
        self.threshold = threshold

    def evaluate(self, inputs: dict[str, Any], ctx: EvalContext) -> Outputs:
        response = inputs["response"]
        if not isinstance(response, str):
            kind = "null" if response is None else type(response).__name__
            raise RowError("bad-input", f"input 'response' must be text, got {kind}")
        row = self.metric.score_row(response, _references(inputs["ground_truth"]))
        higher = self.metric.higher_is_better
        passed = row.score >= self.threshold if higher else row.score <= self.threshold
        key = self.name
        return {
            key: row.score,
            f"{key}_result": "pass" if passed else "fail",
            f"{key}_threshold": self.threshold,
            f"{key}_stats": row.stats,
            f"{key}_refs": row.num_refs,
        }

    def corpus_reducer(self, key: str) -> SacreBleuCorpus | None:
        """The reducer of ``<name>_stats``."""
        return SacreBleuCorpus(self.metric) if key == f"{self.name}_stats" else None

    def describe_params(self) -> dict[str, Any]:
        return {"threshold": self.threshold, **self.metric.params}

    def warm_up(self) -> None:
        """Import sacrebleu and build its objects now (before the runner forks its workers)."""
        self.metric.score_row("warm up", "warm up")


def _factory(name: str) -> Any:
    def build(alias: str, params: Any, ctx: BuildContext) -> Evaluator:
        try:
            metric = SacreBleuMetric(METRIC_OF[name], params.params.model_dump())
        except ValueError as exc:  # tokenize: ja-mecab without its packages
            first_line = str(exc).splitlines()[0]  # sacrebleu's own advice repeats ours
            raise ConfigError(
                f"evaluators.{alias}.params.tokenize: {first_line}",
                where=ctx.where("params", "tokenize") if name == "sacrebleu" else ctx.where(),
            ) from None
        threshold = DEFAULT_THRESHOLDS[name]
        if params.threshold is not None:
            top = 100.0 if metric.higher_is_better else math.inf
            scale = None if metric.higher_is_better else "a number >= 0 (an edit rate, in %)"
            threshold = check_threshold(params.threshold, 0.0, top, ctx, scale=scale)
        return SacreBleuEvaluator(alias, name, metric, threshold)

    return build


SACREBLEU_EVALUATORS: tuple[EvaluatorInfo, ...] = (
    EvaluatorInfo(
        "chrf",
        Family.NLP,
        "sacrebleu chrF (word_order: 2 for chrF++), 0-100; corpus score from summed statistics",
        INPUTS,
        sacrebleu_fields("chrf"),
        _factory("chrf"),
        ChrfParams,
    ),
    EvaluatorInfo(
        "ter",
        Family.NLP,
        "sacrebleu TER, an edit rate (lower is better); corpus score from summed statistics",
        INPUTS,
        sacrebleu_fields("ter"),
        _factory("ter"),
        TerParams,
    ),
    EvaluatorInfo(
        "sacrebleu",
        Family.NLP,
        "sacrebleu BLEU, 0-100 (sentence: effective order); corpus BLEU from summed statistics",
        INPUTS,
        sacrebleu_fields("sacrebleu"),
        _factory("sacrebleu"),
        BleuParams,
    ),
)
