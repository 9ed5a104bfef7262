"""Corpus metrics in ``compare``: scores recomputed from the rows' stored statistics.

A corpus metric (``kind: corpus`` in ``metric_info``, e.g. ``<alias>.corpus_chrf``) is not a
mean of row values: each row stores its sufficient statistics (``outputs.<alias>.<key>``, a
list of numbers), and the score of any set of rows is the reducer recorded in the metric's
``corpus`` entry applied to their sums (see :mod:`evalcli.corpus`). ``compare`` therefore
bootstraps it by resampling paired rows and recomputing both runs' scores on each resample.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evalcli.compare.stats import Interval, resampled_interval
from evalcli.corpus import CorpusReducer, is_stats, rebuild

if TYPE_CHECKING:
    from evalcli.compare.metrics import MetricDef


@dataclass(frozen=True)
class StatsColumns:
    """Rows' statistics laid out by column, for fast sums over resamples.

    Attributes:
        columns: One tuple per statistic, every row's value in row order.
    """

    columns: tuple[tuple[float, ...], ...]

    @classmethod
    def of(cls, rows: Sequence[Sequence[float]]) -> StatsColumns | None:
        """The table of ``rows``; None when there are none or their lengths differ."""
        if not rows or any(len(r) != len(rows[0]) for r in rows):
            return None
        return cls(tuple(zip(*rows, strict=True)))

    def totals(self, indices: Sequence[int] | None = None) -> list[float]:
        """Each statistic summed over all rows, or over ``indices`` (repeats allowed), left to
        right from 0 as the aggregator sums them (so a full sum equals the run's)."""
        if indices is None:
            return [sum(column) for column in self.columns]
        return [sum(map(column.__getitem__, indices)) for column in self.columns]


@functools.lru_cache(maxsize=64)
def _rebuilt(description: str) -> CorpusReducer:
    return rebuild(json.loads(description))


def reducer(description: Any) -> CorpusReducer | None:
    """The reducer a ``metric_info`` entry's ``corpus`` describes; None if evalcli cannot
    rebuild it (unknown reducer, bad parameters)."""
    try:
        return _rebuilt(json.dumps(description, sort_keys=True))
    except (ValueError, TypeError):
        return None


def row_stats(row: dict[str, Any], evaluator: str, key: str) -> list[float] | None:
    """A row's statistics for ``<evaluator>.<key>``; None when that evaluation failed."""
    prefix = f"outputs.{evaluator}."
    if row.get(prefix + "error") is not None:
        return None
    value = row.get(prefix + key)
    return value if is_stats(value) else None


def corpus_score(
    found: CorpusReducer | None, table: StatsColumns | None, indices: Sequence[int] | None = None
) -> float | None:
    """The score of the table's rows (or of the rows at ``indices``)."""
    if found is None or table is None:
        return None
    return found.score(table.totals(indices))


def compare_corpus(
    bdef: MetricDef,
    cdef: MetricDef,
    base_rows: Sequence[dict[str, Any]],
    cand_rows: Sequence[dict[str, Any]],
    *,
    resamples: int,
    seed: int,
    confidence: float,
) -> tuple[dict[str, Any], Interval | None]:
    """A corpus metric on the paired rows scored in both runs, and the bootstrap interval of
    its difference: the pairs are resampled and both runs' corpus scores recomputed from the
    resampled rows' statistics, each with its own run's reducer.

    Returns:
        The comparison's fields (``n``, ``baseline``, ``candidate``, ``diff``, ...) and the
        interval (None when a score is undefined).
    """
    pairs = [
        (b, c)
        for b, c in zip(map(bdef.row_stats, base_rows), map(cdef.row_stats, cand_rows), strict=True)
        if b is not None and c is not None
    ]
    b_table = StatsColumns.of([b for b, _ in pairs])
    c_table = StatsColumns.of([c for _, c in pairs])
    b_reducer, c_reducer = reducer(bdef.corpus), reducer(cdef.corpus)
    baseline = corpus_score(b_reducer, b_table)
    candidate = corpus_score(c_reducer, c_table)
    diff = None if baseline is None or candidate is None else candidate - baseline

    def statistic(indices: list[int]) -> float | None:
        b = corpus_score(b_reducer, b_table, indices)
        c = corpus_score(c_reducer, c_table, indices)
        return None if b is None or c is None else c - b

    interval = None
    if diff is not None:
        interval = resampled_interval(
            statistic, len(pairs), resamples=resamples, seed=seed, confidence=confidence
        )
    entry: dict[str, Any] = {
        "metric": bdef.name,
        "evaluator": bdef.evaluator,
        "kind": bdef.kind,
        "direction": bdef.direction,
        "mcnemar": None,
        "n": len(pairs),
        "baseline": baseline,
        "candidate": candidate,
        "diff": diff,
    }
    return entry, interval
