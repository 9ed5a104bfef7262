"""chrF/chrF++, TER and BLEU through sacrebleu, per row and per corpus.

sacrebleu's corpus scores are not averages of sentence scores: they are computed once from
sufficient statistics summed over all rows (n-gram matches and lengths for BLEU and chrF,
edit counts and reference lengths for TER). So each row gets both:

* a sentence score, what ``sacrebleu.sentence_bleu`` / ``sentence_chrf`` / ``sentence_ter``
  return (BLEU with effective order, as ``sentence_bleu`` does);
* its statistics, a plain list of numbers that can be stored with the row (JSON).

:meth:`SacreBleuMetric.corpus_score` turns the statistics of all rows back into the number
``corpus_score`` of sacrebleu's metric classes gives, and :meth:`SacreBleuMetric.resample_score`
does the same for any subset or resample of rows (bootstrap in ``compare``). The statistics
and the scores come from sacrebleu itself, through the interface its own significance tests
use (``_extract_corpus_statistics``, ``_compute_score_from_stats``); the only step done here is
adding up the rows' statistics, in the order and the way ``corpus_score`` does, so the numbers
are identical. Scores are on sacrebleu's 0-100 scale.

sacrebleu is imported on first use, so importing this module is cheap.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

MetricName = Literal["chrf", "ter", "bleu"]
#: BLEU tokenizers offered ("ja-mecab" needs ``pip install 'sacrebleu[ja]'``).
BLEU_TOKENIZERS = ("13a", "intl", "zh", "ja-mecab", "char", "none")
#: BLEU smoothing methods (Chen and Cherry, 2014); "exp" is sacrebleu's default.
SMOOTH_METHODS = ("none", "floor", "add-k", "exp")
#: Each metric's parameters and their defaults (sacrebleu's own defaults).
DEFAULTS: dict[str, dict[str, Any]] = {
    "chrf": {"char_order": 6, "word_order": 0, "beta": 2, "lowercase": False, "whitespace": False},
    "ter": {
        "normalized": False,
        "no_punct": False,
        "asian_support": False,
        "case_sensitive": False,
    },
    "bleu": {"tokenize": "13a", "smooth_method": "exp", "smooth_value": None, "lowercase": False},
}
_BLEU_ORDER = 4  # sacrebleu's maximum n-gram order, fixed here

Stats = list[int | float]


@dataclass(frozen=True)
class StatsTable:
    """Many rows' statistics, checked and stored by column (see :meth:`SacreBleuMetric.prepare`).

    Attributes:
        columns: One tuple per statistic, holding every row's value in row order.
        sums: Each column's sum over all rows.
    """

    columns: tuple[tuple[int | float, ...], ...]
    sums: Stats

    @property
    def rows(self) -> int:
        """The number of rows."""
        return len(self.columns[0])

    def totals(self, indices: Sequence[int] | None = None) -> Stats:
        """Each statistic summed over all rows, or over ``indices`` (in that order, with
        repeats), exactly as sacrebleu sums them: left to right from 0."""
        if indices is None:
            return list(self.sums)
        # map + sum run in C: a 10,000-row bootstrap resample takes milliseconds.
        return [sum(map(column.__getitem__, indices)) for column in self.columns]


@dataclass(frozen=True)
class RowScore:
    """One row's sentence-level score and the statistics its corpus score needs.

    Attributes:
        score: The sentence score (0-100; for TER, lower is better and it can exceed 100).
        stats: Sufficient statistics, JSON-serialisable; pass them back to
            :meth:`SacreBleuMetric.corpus_score`.
        num_refs: How many references the row had (for the signature).
    """

    score: float
    stats: Stats
    num_refs: int


def _check_bool(params: Mapping[str, Any], name: str) -> None:
    if not isinstance(params[name], bool):
        raise ValueError(f"{name} must be true or false, got {params[name]!r}")


def _check_int(params: Mapping[str, Any], name: str, low: int, high: int) -> None:
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")


def _validate(metric: str, params: Mapping[str, Any]) -> None:
    """Raise ValueError naming the first bad parameter."""
    if metric == "chrf":
        _check_int(params, "char_order", 1, 20)
        _check_int(params, "word_order", 0, 10)
        _check_int(params, "beta", 0, 100)
        _check_bool(params, "lowercase")
        _check_bool(params, "whitespace")
    elif metric == "ter":
        for name in DEFAULTS["ter"]:
            _check_bool(params, name)
    else:
        if params["tokenize"] not in BLEU_TOKENIZERS:
            raise ValueError(
                f"tokenize must be one of {', '.join(BLEU_TOKENIZERS)}; got {params['tokenize']!r}"
            )
        if params["smooth_method"] not in SMOOTH_METHODS:
            raise ValueError(
                f"smooth_method must be one of {', '.join(SMOOTH_METHODS)}; "
                f"got {params['smooth_method']!r}"
            )
        value = params["smooth_value"]
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0
        ):
            raise ValueError(f"smooth_value must be a number >= 0, got {value!r}")
        _check_bool(params, "lowercase")


class SacreBleuMetric:
    """One configured sacrebleu metric (chrF/chrF++, TER or BLEU).

    Safe to share between threads; picklable (the sacrebleu objects are rebuilt on first use
    in the receiving process).

    Args:
        metric: ``"chrf"``, ``"ter"`` or ``"bleu"``.
        params: Any of the metric's parameters in :data:`DEFAULTS` (the rest take the default):
            chrF ``char_order``, ``word_order`` (2 gives chrF++), ``beta``, ``lowercase``,
            ``whitespace``; TER ``normalized``, ``no_punct``, ``asian_support``,
            ``case_sensitive``; BLEU ``tokenize``, ``smooth_method``, ``smooth_value``,
            ``lowercase``.

    Raises:
        ValueError: unknown metric or parameter, a value of the wrong type or out of range, or
            a tokenizer whose extra packages are not installed.
    """

    def __init__(self, metric: str, params: Mapping[str, Any] | None = None) -> None:
        if metric not in DEFAULTS:
            raise ValueError(f"unknown sacrebleu metric {metric!r}; use one of chrf, ter, bleu")
        given = dict(params or {})
        unknown = sorted(set(given) - set(DEFAULTS[metric]))
        if unknown:
            raise ValueError(
                f"unknown {metric} parameter(s) {', '.join(unknown)}; "
                f"known: {', '.join(DEFAULTS[metric])}"
            )
        self.metric: MetricName = metric  # type: ignore[assignment]  # checked just above
        self.params: dict[str, Any] = {**DEFAULTS[metric], **given}
        _validate(metric, self.params)
        self._row_metric: Any = None
        self._corpus_metric: Any = None
        if self.params.get("tokenize") == "ja-mecab":
            self._sacrebleu_metric(sentence=True)  # fail now, not on the first row

    def __getstate__(self) -> dict[str, Any]:
        # sacrebleu's objects can hold unpicklable tokenizers (MeCab); rebuild them lazily.
        return {**self.__dict__, "_row_metric": None, "_corpus_metric": None}

    def _sacrebleu_metric(self, sentence: bool) -> Any:
        """The cached sacrebleu object scoring rows (``sentence``) or the corpus."""
        cached = self._row_metric if sentence else self._corpus_metric
        if cached is None:
            cached = self._build(sentence)
            if sentence:
                self._row_metric = cached
            else:
                self._corpus_metric = cached
        return cached

    def _build(self, sentence: bool) -> Any:
        """A new sacrebleu metric object with these parameters."""
        from sacrebleu.metrics.bleu import BLEU
        from sacrebleu.metrics.chrf import CHRF
        from sacrebleu.metrics.ter import TER

        p = self.params
        if self.metric == "chrf":
            return CHRF(
                char_order=p["char_order"],
                word_order=p["word_order"],
                beta=p["beta"],
                lowercase=p["lowercase"],
                whitespace=p["whitespace"],
            )
        if self.metric == "ter":
            return TER(**p)
        try:
            # sentence_bleu uses effective order; corpus_bleu does not.
            return BLEU(
                lowercase=p["lowercase"],
                tokenize=p["tokenize"],
                smooth_method=p["smooth_method"],
                smooth_value=p["smooth_value"],
                effective_order=sentence,
            )
        except (ImportError, RuntimeError, AssertionError) as exc:
            raise ValueError(
                f"BLEU tokenize {p['tokenize']!r} is not available here: install its extra "
                f"packages (pip install 'sacrebleu[ja]'): {str(exc).strip()}"
            ) from exc

    @property
    def score_name(self) -> str:
        """sacrebleu's name for the score: ``BLEU``, ``TER``, ``chrF2``, ``chrF2++``, ..."""
        if self.metric == "chrf":
            beta: int = self.params["beta"]
            word_order: int = self.params["word_order"]
            return f"chrF{beta}" + "+" * word_order
        return self.metric.upper()

    @property
    def higher_is_better(self) -> bool:
        """False for TER (an edit rate), True for chrF and BLEU."""
        return self.metric != "ter"

    def stats_length(self) -> int:
        """How many numbers each row's statistics hold."""
        if self.metric == "chrf":
            orders: int = self.params["char_order"] + self.params["word_order"]
            return 3 * orders
        return 2 if self.metric == "ter" else 2 + 2 * _BLEU_ORDER

    def score_row(self, hypothesis: object, references: object) -> RowScore:
        """Score one row against one reference or a list of them.

        Args:
            hypothesis: The response text.
            references: A reference string, or a non-empty list of them (rows may differ in
                how many they have).

        Returns:
            The sentence score (equal to sacrebleu's ``sentence_*`` function) and the row's
            statistics.

        Raises:
            ValueError: the hypothesis is not a string, or references are not a string or a
                non-empty list of strings.
        """
        if not isinstance(hypothesis, str):
            raise ValueError(f"the response must be a string, got {type(hypothesis).__name__}")
        refs = [references] if isinstance(references, str) else references
        if not isinstance(refs, list) or not refs:
            raise ValueError(
                "the reference must be a string or a non-empty list of strings, got "
                + (type(references).__name__ if not isinstance(refs, list) else "an empty list")
            )
        for index, ref in enumerate(refs):
            if not isinstance(ref, str):
                raise ValueError(f"reference {index} must be a string, got {type(ref).__name__}")
        metric = self._sacrebleu_metric(sentence=True)
        # The same call sacrebleu's sentence_score makes: one segment, each reference a stream.
        stats = metric._extract_corpus_statistics([hypothesis], [[ref] for ref in refs])[0]
        score = metric._compute_score_from_stats(stats).score
        return RowScore(float(score), _plain(stats), len(refs))

    def prepare(self, stats: Iterable[Sequence[int | float]]) -> StatsTable:
        """Check the rows' statistics once and lay them out for fast (re)sampling.

        Args:
            stats: Each row's :attr:`RowScore.stats` (rows with an error simply left out).

        Raises:
            ValueError: no rows, or statistics of the wrong shape (for example stored by a
                metric with other parameters).
        """
        rows = list(stats)
        if not rows:
            raise ValueError("no scored rows: a corpus score needs at least one")
        length = self.stats_length()
        for index, row in enumerate(rows):
            if not isinstance(row, list | tuple) or len(row) != length:
                raise self._bad_row(index)
        columns = tuple(zip(*rows, strict=True))
        # Summing checks the values cheaply: a non-number raises, a NaN or an infinity stays
        # in the sum. Only then is each row inspected, to say which one is at fault.
        try:
            sums: Stats = [sum(column) for column in columns]
        except TypeError:
            sums = [math.nan]
        if not all(_is_number(total) for total in sums):
            for index, row in enumerate(rows):
                if not all(_is_number(value) for value in row):
                    raise self._bad_row(index) from None
        return StatsTable(columns, sums)

    def corpus_score(self, stats: StatsTable | Iterable[Sequence[int | float]]) -> float:
        """The corpus score of the rows whose statistics are given, as ``corpus_score`` computes
        it: the statistics summed row by row in the order given, then sacrebleu's formula.

        Raises:
            ValueError: as :meth:`prepare`.
        """
        table = stats if isinstance(stats, StatsTable) else self.prepare(stats)
        return self._score(table.totals())

    def resample_score(
        self, stats: StatsTable | Sequence[Sequence[int | float]], indices: Sequence[int]
    ) -> float:
        """The corpus score of the rows at ``indices`` (repeats allowed: a bootstrap sample),
        equal to sacrebleu's ``corpus_score`` on those rows' texts in that order.

        For many resamples, :meth:`prepare` the statistics once and pass the table.

        Raises:
            ValueError: as :meth:`prepare`, or no indices.
        """
        if not indices:
            raise ValueError("no rows in the resample: a corpus score needs at least one")
        table = stats if isinstance(stats, StatsTable) else self.prepare(stats)
        return self._score(table.totals(indices))

    def _score(self, totals: Stats) -> float:
        # What corpus_score runs once the per-row statistics are summed.
        metric = self._sacrebleu_metric(sentence=False)
        return float(metric._compute_score_from_stats(totals).score)

    def signature(self, ref_counts: Iterable[int], sentence: bool = False) -> str:
        """sacrebleu's reproducibility signature for a corpus score (or, with ``sentence``,
        for the sentence scores).

        Args:
            ref_counts: Each row's :attr:`RowScore.num_refs` (a mix gives ``nrefs:var``).
        """
        counts = set(ref_counts)
        if not counts:
            raise ValueError("no scored rows: the signature needs the number of references")
        # A new object: the cached ones hold the reference count of the last row scored.
        made = self._build(sentence)
        made.num_refs = counts.pop() if len(counts) == 1 else -1
        return str(made.get_signature().format())

    def _bad_row(self, index: int) -> ValueError:
        return ValueError(
            f"row {index}: {self.score_name} statistics must be a list of "
            f"{self.stats_length()} numbers (were they stored with other parameters?)"
        )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _plain(stats: Sequence[Any]) -> Stats:
    """Python ints and floats only (JSON round-trips them exactly)."""
    return [value if isinstance(value, int) else float(value) for value in stats]
