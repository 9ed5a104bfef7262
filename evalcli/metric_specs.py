"""The run metrics an evaluator's declared outputs produce, and how each one accumulates.

Split from :mod:`evalcli.aggregate` so that ``evalcli validate``, which checks that gates
name metrics that will exist, imports neither the aggregator nor the results models
(start-up, issue 15 part 2). :func:`metric_specs` is still importable from
:mod:`evalcli.aggregate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evalcli.corpus import add_into, is_stats
from evalcli.evaluators.base import Evaluator, OutputField, Role

if TYPE_CHECKING:
    from evalcli.corpus import CorpusReducer
    from evalcli.results import MetricKind

__all__ = ["LABEL_RATE_KINDS", "MetricSpec", "field_specs", "metric_specs"]

#: Metric kinds of boolean labels: the share of rows whose label is true.
LABEL_RATE_KINDS: frozenset[str] = frozenset({"defect_rate", "passing_rate", "detection_rate"})


@dataclass
class MetricSpec:
    """How one metric is computed from one output key."""

    name: str
    kind: MetricKind
    source: OutputField | None
    higher_is_better: bool
    hits: float = 0.0
    count: int = 0
    reducer: CorpusReducer | None = None  # corpus metrics: turns the totals into the score
    totals: list[float] | None = None  # corpus metrics: the statistics summed so far
    mixed: bool = False  # corpus metrics: rows' statistics differed in length (no score)

    def add(self, value: Any) -> None:
        """Count one row's value of the source output key (ignored when it does not apply)."""
        f = self.source
        if f is None or value is None:
            return
        if self.kind == "corpus":
            self._add_stats(value)
            return
        # A bool is averaged as 1/0 only where it is the score itself (a code evaluator's
        # check); anywhere else a bool in a mean is a bug, not a number.
        if isinstance(value, bool) and self.kind == "mean" and f.role is not Role.SCORE:
            return
        if self.kind == "mean":
            if isinstance(value, int | float):
                self.hits += float(value)
                self.count += 1
        elif self.kind == "pass_rate":
            if value in ("pass", "fail"):
                self.hits += value == "pass"
                self.count += 1
        elif self.kind == "defect_rate" and f.role is Role.SEVERITY:
            if isinstance(value, int | float) and f.defect_threshold is not None:
                self.hits += value >= f.defect_threshold
                self.count += 1
        elif self.kind in LABEL_RATE_KINDS and isinstance(value, bool):
            self.hits += value
            self.count += 1

    def _add_stats(self, value: Any) -> None:
        if not is_stats(value):
            return
        if self.totals is None:
            # Start from integer zeros: integer statistics stay exact integers, and float
            # ones are summed left to right from 0 in row order, exactly as sacrebleu does.
            self.totals = [0] * len(value)
        elif len(value) != len(self.totals):
            self.mixed = True
            return
        add_into(self.totals, value)
        self.count += 1

    @property
    def value(self) -> float | None:
        """The metric so far (None while no row counted)."""
        if self.kind == "error_count":
            return self.hits
        if self.kind == "corpus":
            if self.totals is None or self.mixed or self.reducer is None:
                return None
            return self.reducer.score(self.totals)
        return self.hits / self.count if self.count else None


def metric_specs(ev: Evaluator) -> list[MetricSpec]:
    """The metrics an evaluator's declared outputs produce (also used to validate gates)."""
    a = ev.alias
    specs = [s for f in ev.outputs for s in field_specs(a, f)]
    for s in specs:
        if s.kind == "corpus" and s.source is not None:
            s.reducer = ev.corpus_reducer(s.source.key)
    specs.append(MetricSpec(f"{a}.error_count", "error_count", None, False))
    return specs


def field_specs(a: str, f: OutputField) -> list[MetricSpec]:
    """The metrics one output field of the evaluator aliased ``a`` produces."""
    hib = f.higher_is_better is not False
    if f.role is Role.SCORE:
        return [MetricSpec(f"{a}.{f.key}", "mean", f, hib)]
    if f.role is Role.SEVERITY:
        return [
            MetricSpec(f"{a}.{f.key}", "mean", f, False),
            MetricSpec(f"{a}.{f.metric_stem}_defect_rate", "defect_rate", f, False),
        ]
    if f.role is Role.RESULT:
        name = f"{a}.pass_rate" if f.primary else f"{a}.{f.metric_stem}_pass_rate"
        return [MetricSpec(name, "pass_rate", f, True)]
    if f.role is Role.LABEL:
        kind: MetricKind = f.label_metric
        # A detection rate's direction: these evaluators show what an input filter would
        # catch in an attack dataset, where catching more is better.
        higher = kind in ("passing_rate", "detection_rate")
        return [MetricSpec(f"{a}.{f.metric_stem}_{kind}", kind, f, higher)]
    if f.role is Role.CORPUS_STATS:
        return [MetricSpec(f"{a}.corpus_{f.metric_stem}", "corpus", f, hib)]
    return []
