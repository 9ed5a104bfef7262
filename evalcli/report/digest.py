"""One pass over the rows of a run: distributions, pass/fail counts and the rows to embed.

Everything here follows ``metric_info``: a metric's ``kind`` says how a row counts (the same
per-row reading as ``compare``, :class:`evalcli.compare.metrics.MetricDef`), never its name.

The rows table embeds at most ``max_rows`` rows. Rows that fail or error are kept first (in
file order); the remaining places go to a deterministic sample of the other rows: each row
gets a pseudo-random priority from a hash of its line number and the lowest priorities are
kept. Only the kept rows (at most ``max_rows`` of them) are ever held in memory.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from evalcli.compare.metrics import KINDS, MetricDef, composite_members, defect_threshold

#: Rows embedded in the table at most (the rest are in results.json / results.csv).
MAX_ROWS = 5000
#: Longest text kept per embedded value; the full text stays in results.json.
MAX_TEXT = 2000
#: Distinct values kept exactly per score before they are rounded (scores without a scale).
_MAX_DISTINCT = 4096


@dataclass
class Metric:
    """One entry of ``metric_info``, with its run value."""

    name: str
    short: str  # the name without ``<evaluator>.``
    info: dict[str, Any]
    value: float | None
    definition: MetricDef | None  # None: the kind is unknown to this evalcli

    @property
    def kind(self) -> str:
        """The declared kind (``mean``, ``pass_rate``, ...)."""
        return str(self.info.get("kind"))


@dataclass
class ValueCounts:
    """The values one score took over the run (exact until too many distinct ones)."""

    counts: Counter[float] = field(default_factory=Counter)
    digits: int | None = None  # significant digits values are rounded to (None: exact)
    all_integers: bool = True
    threshold_values: set[float] = field(default_factory=set)

    def add(self, value: float) -> None:
        """Count one value."""
        if self.all_integers and value != int(value):
            self.all_integers = False
        key = value if self.digits is None else float(f"{value:.{self.digits}g}")
        counts = self.counts
        if key in counts:  # the common case on a long run: nothing new to bound
            counts[key] += 1
            return
        counts[key] = 1
        while len(self.counts) > _MAX_DISTINCT and self.digits != 1:
            # Bounded memory on huge runs of continuous scores: keep fewer digits.
            self.digits = 6 if self.digits is None else self.digits - 1
            merged: Counter[float] = Counter()
            for v, n in self.counts.items():
                merged[float(f"{v:.{self.digits}g}")] += n
            self.counts = merged

    @property
    def total(self) -> int:
        """Values counted."""
        return sum(self.counts.values())


@dataclass
class BinaryCounts:
    """How often a pass/fail, defect or label outcome was good or bad."""

    good: int = 0
    bad: int = 0


@dataclass
class RowEntry:
    """One embedded row: its flat values (long texts cut), failures and errors."""

    line: int
    values: dict[str, Any]
    failed: list[str]  # evaluators whose outcome counts against a rate in this row
    errored: list[str]  # evaluators (or ``target``) that failed on this row


@dataclass
class Digest:
    """What the report shows about the rows of one run."""

    metrics: list[Metric]
    evaluators: list[str]  # aliases in metric_info order (``target``: the target's errors)
    scores: dict[str, ValueCounts]  # mean metrics, by metric name
    binary: dict[str, BinaryCounts]  # pass_rate / defect_rate / passing_rate metrics
    rows: list[RowEntry]  # the embedded rows, by line
    total_rows: int = 0
    failing_rows: int = 0
    erroring_rows: int = 0
    flagged_cut: bool = False  # more failing/erroring rows than places in the table
    max_rows: int = MAX_ROWS


def metrics_of(header: dict[str, Any]) -> list[Metric]:
    """The run's metrics in ``metric_info`` order, with their values and per-row readings."""
    values = header.get("metrics") if isinstance(header.get("metrics"), dict) else {}
    evaluators = header["run"].get("evaluators")
    records = evaluators if isinstance(evaluators, dict) else {}
    out: list[Metric] = []
    for name, info in header["metric_info"].items():
        if not isinstance(info, dict):
            continue
        evaluator = info.get("evaluator")
        if not isinstance(evaluator, str):
            continue
        value = values.get(name) if isinstance(values, dict) else None
        number = float(value) if _is_number(value) else None
        out.append(
            Metric(
                name=name,
                short=name.removeprefix(evaluator + "."),
                info=info,
                value=number,
                definition=_definition(name, info, records.get(evaluator)),
            )
        )
    return out


def _definition(name: str, info: dict[str, Any], record: Any) -> MetricDef | None:
    kind, source = info.get("kind"), info.get("source_key")
    direction = info.get("direction")
    if kind not in KINDS or direction not in ("higher", "lower"):
        return None
    if kind != "error_count" and not isinstance(source, str):
        return None
    rec = record if isinstance(record, dict) else {}
    return MetricDef(
        name=name,
        evaluator=str(info["evaluator"]),
        kind=kind,
        direction=direction,
        source_key=source if isinstance(source, str) else None,
        defect_threshold=defect_threshold(info, rec, source) if kind == "defect_rate" else None,
        members=composite_members(rec),
    )


def digest_rows(
    header: dict[str, Any], rows: Iterable[dict[str, Any]], *, max_rows: int = MAX_ROWS
) -> Digest:
    """Count every row into the charts and keep the rows the table embeds."""
    metrics = metrics_of(header)
    aliases = list(dict.fromkeys(m.definition.evaluator for m in metrics if m.definition))
    digest = Digest(
        metrics=metrics,
        evaluators=aliases,
        scores={m.name: ValueCounts() for m in metrics if m.kind == "mean" and m.definition},
        # Good/bad counts: a detection is neither for its row (its card shows the share).
        binary={m.name: BinaryCounts() for m in metrics if m.definition and m.definition.outcome},
        rows=[],
        max_rows=max_rows,
    )
    # Per metric, what the loop needs, looked up once (this runs for every row of the run).
    binaries = [
        (
            m.definition.row_value,
            digest.binary[m.name],
            m.kind == "defect_rate",
            m.info["evaluator"],
        )
        for m in metrics
        if m.definition and m.name in digest.binary
    ]
    means = [
        (m.definition.row_value, digest.scores[m.name], _threshold_keys(m))
        for m in metrics
        if m.definition and m.name in digest.scores
    ]
    # Who can fail on a row: every evaluator, and the target (``target.error_count``); the
    # error_count reading counts a composite's failed members too.
    error_defs = {
        m.definition.evaluator: m.definition.row_errors
        for m in metrics
        if m.definition and m.kind == "error_count"
    }
    error_checks = [(a, error_defs.get(a), f"outputs.{a}.error") for a in aliases]
    flagged: list[RowEntry] = []
    # Max-heap of (-priority, position in the file, entry): the kept sample.
    sample: list[tuple[int, int, RowEntry]] = []
    for index, row in enumerate(rows):
        line = row.get("line")
        line = line if isinstance(line, int) and not isinstance(line, bool) else index + 1
        digest.total_rows += 1
        failed: list[str] = []
        for read, counts, defect, evaluator in binaries:
            value = read(row)
            if value is None:
                continue
            if value == (1.0 if defect else 0.0):  # a fail, a defect, a label not passing
                counts.bad += 1
                if evaluator not in failed:
                    failed.append(evaluator)
            else:
                counts.good += 1
        for read, values, keys in means:
            score = read(row)
            if score is None:
                continue
            values.add(score)
            if len(values.threshold_values) < 2:  # one threshold draws a line, two do not
                for key in keys:
                    threshold = row.get(key)
                    if threshold is not None:
                        known = threshold in values.threshold_values
                        if not known and _is_number(threshold):
                            values.threshold_values.add(float(threshold))
                        break
        errored = [
            alias
            for alias, count, key in error_checks
            if (count(row) > 0 if count is not None else row.get(key) is not None)
        ]
        digest.failing_rows += bool(failed)
        digest.erroring_rows += bool(errored)
        if failed or errored:
            if len(flagged) < max_rows:
                flagged.append(RowEntry(line, _embeddable(row), failed, errored))
            else:
                digest.flagged_cut = True
            while sample and len(sample) > max_rows - len(flagged):
                heapq.heappop(sample)
            continue
        room = max_rows - len(flagged)
        if room <= 0:
            continue
        priority = _priority(line)
        if len(sample) < room:
            heapq.heappush(sample, (-priority, index, RowEntry(line, _embeddable(row), [], [])))
        elif -sample[0][0] > priority:
            heapq.heapreplace(sample, (-priority, index, RowEntry(line, _embeddable(row), [], [])))
    digest.rows = sorted([*flagged, *(e for _, _, e in sample)], key=lambda e: e.line)
    return digest


def _threshold_keys(m: Metric) -> list[str]:
    """Where a row keeps the pass threshold of a score (for the chart's threshold line)."""
    prefix = f"outputs.{m.info.get('evaluator')}."
    if "threshold_key" in m.info:
        # Declared: the output key of the THRESHOLD field of the score's subject (null when
        # the evaluator has none, e.g. a score without pass/fail).
        key = m.info["threshold_key"]
        return [prefix + key] if isinstance(key, str) else []
    # Fallback for results.json files written by evalcli versions before the threshold key
    # was recorded: their built-in evaluators named it ``<score>_threshold``, or a
    # severity's ``<harm>_threshold`` beside ``<harm>_score``.
    source = str(m.info.get("source_key"))
    stems = dict.fromkeys((source, source.removesuffix("_score")))
    return [f"{prefix}{stem}_threshold" for stem in stems]


def subject_of(m: Metric) -> str:
    """The subject a metric is about (the declared stem of its output field).

    Results files written before subjects were recorded do not have it: there it is read
    from the metric's name, as those versions named derived metrics ``<subject>_<kind>``
    (``violence_defect_rate``); that fallback is for old files only.
    """
    subject = m.info.get("subject")
    if isinstance(subject, str):
        return subject
    return m.short.removesuffix(f"_{m.kind}")


def _priority(line: int) -> int:
    """A pseudo-random but fixed number per line: the same rows are sampled every time."""
    digest = hashlib.blake2b(str(line).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


#: Value types an embedded row keeps as they are (texts are checked for their length).
_SCALARS = frozenset({float, int, bool, type(None)})


def _embeddable(row: dict[str, Any]) -> dict[str, Any]:
    # Most values are short texts and numbers: only long texts and containers are copied.
    # A first quick pass tells whether there is anything to cut (there seldom is).
    for value in row.values():
        kind = type(value)
        if kind not in _SCALARS and (kind is not str or len(value) > MAX_TEXT):
            break
    else:
        return row
    out = row
    for key, value in row.items():
        if (type(value) is str and len(value) > MAX_TEXT) or isinstance(value, list | dict):
            if out is row:
                out = dict(row)
            out[key] = cut_text(value)
    return out


def cut_text(value: Any, limit: int = MAX_TEXT) -> Any:
    """``value`` with every string longer than ``limit`` cut (nested values too)."""
    if isinstance(value, str):
        if len(value) <= limit:
            return value
        return f"{value[:limit]}… [{len(value) - limit:,} more characters in results.json]"
    if isinstance(value, list):
        return [cut_text(v, limit) for v in value]
    if isinstance(value, dict):
        return {k: cut_text(v, limit) for k, v in value.items()}
    return value


def _is_number(value: Any) -> TypeGuard[int | float]:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )
