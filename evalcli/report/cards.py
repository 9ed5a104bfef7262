"""One card per evaluator: its numbers and charts, chosen by each metric's declared kind.

=================  ==========================================================================
metric kind        shown as
=================  ==========================================================================
``mean``           the score distribution: one bar per value on an integer scale (1-5 judge
                   scores, 0-7 severities), ten bins on a continuous one (0-1 NLP scores);
                   the pass threshold, the mean and, for severities, the defect threshold
                   drawn as lines
``pass_rate``      a line of the card's rates table: the rate and a pass / fail bar
``defect_rate``    the same (defect / no defect); a severity's (a defect rate of the same
                   output key as a mean) also adds the stacked severity labels of the run's
                   summary under the distribution, the defect threshold marked between bands
``passing_rate``   the same (passing / not passing)
``detection_rate`` the share, as a number (a detection is neither good nor bad for a row)
``error_count``    the number, in the card's header line
``corpus``         the number (a score of the whole corpus, from summed row statistics)
=================  ==========================================================================

A score's scale comes from ``metric_info.<metric>.scale`` (``{"min", "max", "integer"}``),
the range its evaluator declares (``OutputField.range`` and ``integer``); the threshold line
from the row key ``metric_info.<metric>.threshold_key`` names; a severity's labels from the
run summary's ``<subject>_distribution``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from evalcli.compare.metrics import KINDS
from evalcli.report.digest import Digest, Metric, ValueCounts, subject_of
from evalcli.report.load import as_dict, as_list
from evalcli.report.markup import breakable, esc, fmt_count, fmt_number, fmt_rate
from evalcli.report.svg import Bar, Marker, Segment, distribution, shares, split_bar
from evalcli.safety.severity import BANDS

_BINS = 10
_MAX_INTEGER_BARS = 20
_OUTCOME_WORDS = {
    "pass_rate": ("pass", "fail"),
    "defect_rate": ("no defect", "defect"),
    "passing_rate": ("passing", "not passing"),
}


def evaluator_cards(header: dict[str, Any], digest: Digest) -> str:
    """The cards section (the target, which is no evaluator, gets none)."""
    records = as_dict(header["run"].get("evaluators"))
    summaries = {s.get("alias"): s for s in as_list(header.get("summaries")) if isinstance(s, dict)}
    usage = as_dict(as_dict(header.get("usage")).get("evaluators"))
    cards = [
        _card(
            alias, as_dict(records.get(alias)), summaries.get(alias) or {}, usage.get(alias), digest
        )
        for alias in digest.evaluators
        if alias in records or alias in summaries
    ]
    if not cards:
        return ""
    return (
        '<section id="evaluators"><h2>Evaluators</h2><div class="cards">'
        + "".join(cards)
        + "</div></section>"
    )


def _card(
    alias: str,
    record: dict[str, Any],
    summary: dict[str, Any],
    tokens: Any,
    digest: Digest,
) -> str:
    metrics = [m for m in digest.metrics if m.info.get("evaluator") == alias]
    facts: list[str] = []
    if isinstance(summary.get("scored"), int):
        facts.append(f"{fmt_count(summary['scored'])} scored")
    for m in metrics:
        if m.kind == "error_count":
            errors = int(m.value or 0)
            tone = "bad" if errors else "ok"
            word = "error" if errors == 1 else "errors"
            facts.append(f'<span class="errs tone-{tone}">{fmt_count(errors)} {word}</span>')
    if isinstance(tokens, dict):
        prompt, completion = tokens.get("prompt_tokens"), tokens.get("completion_tokens")
        if isinstance(prompt, int) and isinstance(completion, int):
            facts.append(f"tokens {fmt_count(prompt)} in / {fmt_count(completion)} out")
    what = " · ".join(
        esc(str(v)) for v in (record.get("use"), record.get("family")) if isinstance(v, str)
    )
    judge = record.get("judge")
    if isinstance(judge, str):
        what += f" · {esc(judge)}"
    extra: dict[str, Any] = summary["extra"] if isinstance(summary.get("extra"), dict) else {}
    # A severity: a defect rate counted from the same output key as a mean score.
    severities = {
        m.info.get("source_key"): m
        for m in metrics
        if m.kind == "defect_rate"
        and m.definition
        and isinstance(m.info.get("defect_threshold"), int | float)
    }
    rates = [m for m in metrics if m.name in digest.binary]
    charts: list[str] = []
    for m in metrics:
        if m.kind == "mean" and m.name in digest.scores:
            severity = severities.get(m.info.get("source_key"))
            charts.append(_score_block(m, digest.scores[m.name], severity, extra))
        elif m.kind == "corpus" or m.kind not in KINDS:  # its value only (also a kind
            # newer than this evalcli)
            charts.append(
                f'<div class="metric"><span class="mname">{esc(m.short)}</span> '
                f'<span class="mval">{esc(fmt_number(m.value))}</span></div>'
            )
        elif m.kind == "detection_rate":  # neither good nor bad: no good/bad bar, a share
            charts.append(
                f'<div class="metric"><span class="mname">{esc(m.short)}</span> '
                f'<span class="mval">{esc(fmt_rate(m.value))}</span></div>'
            )
    # A card with many charts spans two columns and lays them out side by side.
    wide = " wide" if len(charts) > 2 else ""
    return (
        f'<article class="card{wide}" data-evaluator="{esc(alias)}"><h3>{esc(alias)}</h3>'
        f'<p class="sub">{what}</p><p class="facts">{" · ".join(facts)}</p>'
        + (_rates_table(rates, digest) if rates else "")
        + f'<div class="charts">{"".join(charts)}</div></article>'
    )


def _rates_table(rates: list[Metric], digest: Digest) -> str:
    """Pass, defect and passing rates: one line each, with a good/bad bar and the counts."""
    lines = []
    for m in rates:
        counts = digest.binary[m.name]
        good, bad = _OUTCOME_WORDS[m.kind]
        lines.append(
            f'<tr data-metric="{esc(m.name)}"><th>{breakable(m.short)}</th>'
            f'<td class="rate">{esc(fmt_rate(m.value))}</td><td>'
            + split_bar(counts.good, counts.bad, metric=m.name, words=(good, bad))
            + f'</td><td class="cnt">{fmt_count(counts.good)} {esc(good)} · '
            f"{fmt_count(counts.bad)} {esc(bad)}</td></tr>"
        )
    return '<table class="rates">' + "".join(lines) + "</table>"


def _score_block(
    m: Metric, values: ValueCounts, severity: Metric | None, extra: dict[str, Any]
) -> str:
    thresholds = values.threshold_values
    threshold = next(iter(thresholds)) if len(thresholds) == 1 else None
    defect = severity.definition.defect_threshold if severity and severity.definition else None
    marks = [v for v in (threshold, defect) if v is not None]
    pairs, position = _bars(m, values, marks)
    integer = _integer_bars(m, values, marks)
    higher = m.info.get("direction") != "lower"
    markers: list[Marker] = []
    if threshold is not None:
        bars = [_toned(b, lo, hi, threshold, higher) for b, (lo, hi) in pairs]
        # A pass on an integer scale is ">= t" (or "<= t"): the line sits between values.
        edge = threshold - 0.5 if higher else threshold + 0.5
        at = position(edge) if integer else position(threshold)
        markers.append(Marker(at, f"threshold {fmt_number(threshold)}", "threshold"))
    else:
        bars = [b for b, _ in pairs]
    if defect is not None:
        at = position(defect - 0.5) if integer else position(defect)
        markers.append(Marker(at, f"defects ≥ {fmt_number(defect)}", "defect"))
    if m.value is not None:
        markers.append(Marker(position(m.value), f"mean {fmt_number(m.value)}", "mean"))
    caption = f"{m.short}: {fmt_count(values.total)} scored rows"
    chart = distribution(bars, markers, metric=m.name, caption=caption)
    if severity is not None and defect is not None:
        # The severity labels the run's summary counted per subject (as
        # ``<subject>_distribution``), stacked from the mildest band, with the defect
        # threshold between bands.
        dist = extra.get(f"{subject_of(severity)}_distribution")
        if isinstance(dist, dict) and dist:
            chart += _severity_labels(severity, dist, defect)
    return (
        f'<div class="metric" data-metric="{esc(m.name)}"><span class="mname">{esc(m.short)}'
        f'</span> <span class="mval">mean {esc(fmt_number(m.value))}</span>{chart}</div>'
    )


def _integer_bars(m: Metric, values: ValueCounts, marks: list[float]) -> bool:
    scale = _scale(m)
    if scale is not None:  # an integer scale of many values (0-100) is binned too
        return scale[2] and scale[1] - scale[0] <= _MAX_INTEGER_BARS
    # No declared scale (an open score, a code evaluator's number, or a file written before
    # scales were recorded): one bar per value when every value seen is a whole number in a
    # short range. Read from the data, never from the metric's name.
    lo, hi = _observed(values, marks)
    return values.all_integers and hi - lo <= _MAX_INTEGER_BARS


def _observed(values: ValueCounts, marks: list[float]) -> tuple[float, float]:
    """The fallback range: the values seen, widened to take in the thresholds."""
    points = [*values.counts, *marks] or [0.0, 1.0]
    return min(points), max(points)


def _bars(
    m: Metric, values: ValueCounts, marks: list[float]
) -> tuple[list[tuple[Bar, tuple[float, float]]], Callable[[float], float]]:
    """Bars with the value range each covers, and the value -> bar-unit position mapping."""
    scale = _scale(m)
    counts = values.counts
    out: list[tuple[Bar, tuple[float, float]]] = []
    if scale is not None:
        lo, hi = scale[0], scale[1]
    else:
        lo, hi = _observed(values, marks)  # fallback: no declared scale
    if _integer_bars(m, values, marks):
        first, last = math.floor(lo), math.ceil(hi)
        per = dict.fromkeys(range(first, last + 1), 0)
        outside = 0
        for value, n in counts.items():
            key = round(value)
            if key in per and key == value:
                per[key] += n
            else:
                outside += n  # off the declared scale: shown apart, never dropped
        out += [(Bar(str(v), n, title=f"{v}: {n} rows"), (v, v)) for v, n in per.items()]
        if outside:
            off = Bar("other", outside, title=f"off the scale: {outside} rows")
            out.append((off, (math.nan, math.nan)))
        return out, lambda x: x - first + 0.5
    width = (hi - lo) / _BINS if hi > lo else 1.0
    bins = [0] * _BINS
    for value, n in counts.items():
        i = int((value - lo) / width) if hi > lo else 0
        bins[min(max(i, 0), _BINS - 1)] += n  # the top value, or one off the scale: an end bin
    for i, n in enumerate(bins):
        a, b = lo + i * width, lo + (i + 1) * width
        label = fmt_number(a, 2)
        out.append((Bar(label, n, title=f"{fmt_number(a)}–{fmt_number(b)}: {n} rows"), (a, b)))
    return out, lambda x: (x - lo) / width


def _toned(bar: Bar, lo: float, hi: float, threshold: float, higher: bool) -> Bar:
    if math.isnan(lo):
        return bar
    passes_lo = lo >= threshold if higher else lo <= threshold
    passes_hi = hi >= threshold if higher else hi <= threshold
    tone = "ok" if passes_lo and passes_hi else "bad" if not (passes_lo or passes_hi) else "neutral"
    return Bar(bar.label, bar.count, tone, bar.title)


def _scale(m: Metric) -> tuple[float, float, bool] | None:
    scale = m.info.get("scale")
    if not isinstance(scale, dict):
        return None
    lo, hi = scale.get("min"), scale.get("max")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lo, hi)):
        return None
    assert isinstance(lo, int | float) and isinstance(hi, int | float)
    if not (math.isfinite(lo) and math.isfinite(hi) and hi >= lo):
        return None
    return float(lo), float(hi), scale.get("integer") is True


def _severity_labels(m: Metric, dist: dict[str, Any], defect_from: float) -> str:
    known = [label for label in BANDS if label in dist]
    others = [label for label in dist if label not in BANDS]
    segments = []
    marker_after: int | None = None
    for label in (*known, *others):
        count = dist[label]
        if not isinstance(count, int):
            continue
        band = BANDS.get(label)
        tone = "neutral" if band is None else "bad" if band[0] >= defect_from else "ok"
        segments.append(Segment(label, count, tone))
        if band is not None and band[1] < defect_from:
            marker_after = len(segments) - 1
    return shares(
        segments,
        metric=m.name,
        caption=f"{subject_of(m)} severity labels",
        marker_after=marker_after,
        marker_label=f"defects from severity {fmt_number(defect_from)}",
    )
