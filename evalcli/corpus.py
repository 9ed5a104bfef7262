"""Corpus-level metrics: per-row sufficient statistics, summed, then reduced to one score.

Some metrics are not means of row scores. sacrebleu's corpus BLEU, chrF and TER add up each
row's sufficient statistics (n-gram matches, lengths, edit counts) and apply their formula once
to the totals. An evaluator declares such a metric with an output field of role
:attr:`~evalcli.evaluators.declaration.Role.CORPUS_STATS` (the row's statistics, a JSON list of
numbers) and gives, through :meth:`~evalcli.evaluators.base.Evaluator.corpus_reducer`, the
:class:`CorpusReducer` that turns the summed statistics into the score.

The aggregator sums the statistics element by element over the scored rows, in input order
(as sacrebleu does, so the numbers are identical); ``compare`` rebuilds the reducer from the
description recorded in ``metric_info`` (:func:`rebuild`) and recomputes the score of any
resample of rows from their stored statistics.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from typing import Any, Protocol

#: Reducers ``compare`` can rebuild from a results file: the ``reducer`` name recorded in
#: ``metric_info.<metric>.corpus`` -> ``module:function`` taking that description. A fixed
#: table, so a results file can never make evalcli import a module of its choosing.
REBUILDERS: dict[str, str] = {
    "sacrebleu": "evalcli.evaluators.translation:reducer_from_description",
}


class CorpusReducer(Protocol):
    """Turns statistics summed over rows into a corpus score."""

    def score(self, totals: Sequence[float]) -> float | None:
        """The corpus score of rows whose statistics sum to ``totals`` (None: undefined)."""
        ...

    def observe(self, outputs: dict[str, Any]) -> None:
        """See one scored row's outputs (for what the totals do not hold, such as how many
        references rows had); called in input order, in the evalcli process."""
        ...

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable description, recorded in ``metric_info``: ``reducer`` (a key of
        :data:`REBUILDERS`) and whatever rebuilding it needs, plus notes for readers."""
        ...


def is_stats(value: object) -> bool:
    """A row's statistics: a non-empty list of finite numbers (booleans excluded)."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in value
        )
    )


def add_into(totals: list[float], stats: Sequence[float]) -> None:
    """Add ``stats`` into ``totals`` element by element (same length assumed)."""
    for i, v in enumerate(stats):
        totals[i] += v


def rebuild(description: object) -> CorpusReducer:
    """The reducer a ``metric_info`` entry describes.

    Raises:
        ValueError: the description is not one evalcli knows how to rebuild.
    """
    name = description.get("reducer") if isinstance(description, dict) else None
    target = REBUILDERS.get(name) if isinstance(name, str) else None
    if target is None or not isinstance(description, dict):
        raise ValueError(f"unknown corpus reducer {name!r}")
    module, _, function = target.partition(":")
    made: CorpusReducer = getattr(importlib.import_module(module), function)(description)
    return made
