"""Per-row values of run metrics, recomputed from the rows of a ``results.json``.

A metric's meaning comes from its ``metric_info`` entry (written by the aggregator from the
evaluators' declared outputs), never from its name:

========================  ===================================================================
kind                      per-row value (None = not scored in that row)
========================  ===================================================================
``mean``                  the number at ``outputs.<alias>.<source_key>`` (booleans excluded)
``pass_rate``             1 for ``"pass"``, 0 for ``"fail"``
``defect_rate``           a severity at or above the defect threshold -> 1, below -> 0; or a
                          boolean label (true = defect)
``passing_rate``          a boolean label (true = passing)
``detection_rate``        a boolean label (true = detected, e.g. Prompt Shields found an
                          attack in an input; neither good nor a defect)
``error_count``           failed evaluations in the row (a composite counts once per member)
``corpus``                none: the row's statistics (``outputs.<alias>.<source_key>``) are
                          summed and reduced as ``metric_info.<name>.corpus`` records (see
                          :mod:`evalcli.compare.corpus`)
========================  ===================================================================

Averaging the per-row values over the scored rows (for a corpus metric, reducing their summed
statistics) gives exactly what the aggregator computes, so the metrics of a run can be checked
against its own ``metrics``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, get_args

from evalcli.compare.corpus import StatsColumns, corpus_score, reducer, row_stats
from evalcli.compare.load import LoadedRun
from evalcli.results import MetricKind as Kind
from evalcli.safety.severity import BANDS, band_name

KINDS: tuple[Kind, ...] = get_args(Kind)
#: Outcomes that are good or bad for the row they are scored in (the report's rates table
#: counts them as such).
OUTCOME_KINDS: frozenset[str] = frozenset({"pass_rate", "defect_rate", "passing_rate"})
#: A 0/1 value per row, so McNemar's exact test applies: the outcomes, and detections, whose
#: value says what an input filter flagged. A detection is neither good nor bad for its row,
#: but its rate has a recorded direction (``higher``: of the attacks in a red-team dataset,
#: the share the filter would have stopped), and compare judges a change by it.
BINARY_KINDS: frozenset[str] = OUTCOME_KINDS | {"detection_rate"}
#: The reference SDK's defect threshold: severity 4 ("Medium") and above is a defect.
DEFAULT_DEFECT_THRESHOLD = 4.0


@dataclass(frozen=True)
class MetricDef:
    """One comparable metric of one run and how to read it from a flat row."""

    name: str
    evaluator: str
    kind: Kind
    direction: Literal["higher", "lower"]
    source_key: str | None
    defect_threshold: float | None = None
    members: tuple[str, ...] = ()
    #: Corpus metrics: the recorded description of their reducer.
    corpus: dict[str, Any] | None = field(default=None, hash=False)

    @property
    def binary(self) -> bool:
        """A 0/1 value per row (McNemar applies): an outcome or a detection."""
        return self.kind in BINARY_KINDS

    @property
    def outcome(self) -> bool:
        """A 0/1 outcome that is good or bad for its row (pass, defect, passing label)."""
        return self.kind in OUTCOME_KINDS

    def same_meaning(self, other: MetricDef) -> bool:
        """Both runs define the metric the same way (the defect threshold may differ)."""
        return (self.evaluator, self.kind, self.direction, self.source_key) == (
            other.evaluator,
            other.kind,
            other.direction,
            other.source_key,
        )

    # The row keys read, built once per metric: the report reads every row of a run with
    # each of its metrics. (Not fields: equality, hashing and the repr stay as declared.)
    @cached_property
    def _error_key(self) -> str:
        return f"outputs.{self.evaluator}.error"

    @cached_property
    def _member_error_keys(self) -> tuple[str, ...]:
        return tuple(f"outputs.{self.evaluator}.{m}_error" for m in self.members)

    @cached_property
    def _value_key(self) -> str | None:
        if self.source_key is None:
            return None
        return f"outputs.{self.evaluator}.{self.source_key}"

    def row_value(self, row: dict[str, Any]) -> float | None:
        """This metric's value in one row, or None when the row was not scored for it (and
        always for a corpus metric, which has no per-row value: see :meth:`row_stats`)."""
        if self.kind == "error_count":
            return float(self.row_errors(row))
        if self.kind == "corpus":
            return None
        key = self._value_key
        if key is None or row.get(self._error_key) is not None:
            return None
        value = row.get(key)
        if value is None:
            return None
        if self.kind == "mean":
            if isinstance(value, bool):  # a code evaluator's check, averaged as 1/0
                return 1.0 if value else 0.0
            if not isinstance(value, int | float):
                return None
            return float(value) if math.isfinite(value) else None
        if self.kind == "pass_rate":
            return 1.0 if value == "pass" else 0.0 if value == "fail" else None
        if isinstance(value, bool):
            return 1.0 if value else 0.0
        if self.kind == "defect_rate" and isinstance(value, int | float):
            if self.defect_threshold is None or not math.isfinite(value):
                return None
            return 1.0 if value >= self.defect_threshold else 0.0
        return None

    def row_stats(self, row: dict[str, Any]) -> list[float] | None:
        """A corpus metric's statistics in one row (None: not scored in that row)."""
        if self.kind != "corpus" or self.source_key is None:
            return None
        return row_stats(row, self.evaluator, self.source_key)

    def row_errors(self, row: dict[str, Any]) -> int:
        """Failed evaluations of this metric's evaluator in one row."""
        if row.get(self._error_key) is not None:
            return len(self.members) or 1
        keys = self._member_error_keys
        return sum(row.get(k) is not None for k in keys) if keys else 0


def metric_defs(run: LoadedRun) -> tuple[dict[str, MetricDef], list[str]]:
    """The metrics of a run that can be recomputed from its rows.

    Returns:
        ``(definitions by metric name, names that cannot be recomputed)``, in the order of
        the run's ``metrics``.
    """
    defs: dict[str, MetricDef] = {}
    skipped: list[str] = []
    for name in run.metrics:
        info = run.metric_info.get(name)
        kind = info.get("kind") if info else None
        evaluator = info.get("evaluator") if info else None
        direction = info.get("direction") if info else None
        source = info.get("source_key") if info else None
        corpus = info.get("corpus") if info else None
        if (
            info is None
            or kind not in KINDS
            or not isinstance(evaluator, str)
            or direction not in ("higher", "lower")
            or (kind != "error_count" and not isinstance(source, str))
            or (kind == "corpus" and reducer(corpus) is None)
        ):
            skipped.append(name)
            continue
        record = run.evaluators.get(evaluator, {})
        defs[name] = MetricDef(
            name=name,
            evaluator=evaluator,
            kind=kind,
            direction=direction,
            source_key=source if isinstance(source, str) else None,
            defect_threshold=(
                defect_threshold(info, record, source) if kind == "defect_rate" else None
            ),
            members=composite_members(record),
            corpus=corpus if kind == "corpus" else None,
        )
    return defs, skipped


def composite_members(record: dict[str, Any]) -> tuple[str, ...]:
    """Member names of a composite evaluator (its params are recorded per member)."""
    params = record.get("params")
    if record.get("family") == "composite" and isinstance(params, dict):
        return tuple(k for k, v in params.items() if isinstance(v, dict))
    return ()


def defect_threshold(info: dict[str, Any], record: dict[str, Any], source: Any) -> float:
    """The severity at and above which a row counts as a defect.

    Looked up in the metric's own ``metric_info`` entry, then in the evaluator's recorded
    params (for a composite, in the params of the member whose key this is), then the
    reference default of 4 ("Medium"). A severity label counts as its lowest severity.
    """
    candidates: list[Any] = [info.get("defect_threshold")]
    params = record.get("params")
    if isinstance(params, dict):
        candidates.append(params.get("defect_threshold"))
        if isinstance(source, str):
            for member, member_params in params.items():
                if isinstance(member_params, dict) and (
                    source == member or source.startswith(member + "_")
                ):
                    candidates.append(member_params.get("defect_threshold"))
    for value in candidates:
        parsed = parse_defect_threshold(value)
        if parsed is not None:
            return parsed
    return DEFAULT_DEFECT_THRESHOLD


def parse_defect_threshold(value: Any) -> float | None:
    """A number, or a severity label (``Medium`` -> 4); None when not a threshold."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    if isinstance(value, str):
        # A label means the lowest severity of its band (Medium -> 4), as in the config.
        name = band_name(value)
        return float(BANDS[name][0]) if name is not None else None
    return None


def mean(values: list[float]) -> float | None:
    """Exactly rounded mean, None for no values."""
    return math.fsum(values) / len(values) if values else None


def recompute(defn: MetricDef, rows: list[dict[str, Any]]) -> float | None:
    """The metric over the given rows, as the aggregator computes it."""
    if defn.kind == "corpus":
        table = StatsColumns.of([s for s in map(defn.row_stats, rows) if s is not None])
        return corpus_score(reducer(defn.corpus), table)
    values = [defn.row_value(r) for r in rows]
    if defn.kind == "error_count":
        return math.fsum(v for v in values if v is not None)
    return mean([v for v in values if v is not None])
