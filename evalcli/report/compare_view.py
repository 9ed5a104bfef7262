"""The comparison section: forest plots of paired differences, the metric table, warnings.

It renders the :class:`evalcli.compare.Report` that ``evalcli compare`` computes, either two
runs (``--compare BASELINE``) or the variants of one run against its baseline variant
(``--pair-by`` / ``--variant-column``: the counterfactual gap per variant). Rates are
plotted in percentage points, scores in their own units, each on its own panel so that one
axis never mixes the two.
"""

from __future__ import annotations

from evalcli.compare import MetricComparison, Report
from evalcli.compare.metrics import BINARY_KINDS
from evalcli.report.markup import esc, fmt_count, fmt_number
from evalcli.report.svg import ForestRow, forest


def _tone(m: MetricComparison) -> str:
    if m.regression:
        return "bad"
    return "ok" if m.significant else "neutral"


def _scaled(value: float | None, rate: bool) -> float | None:
    return None if value is None else value * 100 if rate else value


def _note(m: MetricComparison, rate: bool) -> str:
    unit = " pt" if rate else ""
    diff = _scaled(m.diff, rate)
    text = f"{_signed(diff)}{unit}"
    if m.ci_low is not None and m.ci_high is not None:
        text += f" [{_signed(_scaled(m.ci_low, rate))}, {_signed(_scaled(m.ci_high, rate))}]"
    if m.mcnemar is not None:
        text += f" p={m.mcnemar.p_value:.3g}"
    if m.regression:
        text += " REGRESSION"
    return text


def _signed(v: float | None) -> str:
    if v is None:
        return "-"
    text = fmt_number(v, 3)
    return text if text.startswith("-") or text == "0" else f"+{text}"


def comparison_section(report: Report) -> str:
    """The whole comparison: what was compared, regressions, plots, table, warnings."""
    variants = report.mode == "variants"
    parts = ['<section id="comparison"><h2>Comparison</h2>']
    if variants:
        first = report.comparisons[0] if report.comparisons else None
        parts.append(
            '<p class="compare-meta">Variants of one run, each against the baseline variant '
            f"<b>{esc(first.baseline if first else '?')}</b>, paired by "
            f"<code>{esc(first.pairing.by if first else '?')}</code> "
            f"({esc(report.baseline_file)}).</p>"
        )
    else:
        comp = report.comparisons[0]
        parts.append(
            f'<p class="compare-meta">Baseline <b>{esc(comp.baseline)}</b> '
            f"({esc(report.baseline_file)}) → candidate <b>{esc(comp.candidate)}</b> "
            f"({esc(report.candidate_file or '')}); "
            f"{fmt_count(comp.pairing.paired)} rows paired by <code>{esc(comp.pairing.by)}</code>"
            f"{_unmatched(comp.pairing.unmatched_baseline, comp.pairing.unmatched_candidate)}.</p>"
        )
    if report.regressions:
        parts.append(
            '<p><span class="badge tone-bad">regression</span> significantly worse:</p>'
            '<ul class="regressions">'
            + "".join(f"<li>{esc(r)}</li>" for r in report.regressions)
            + "</ul>"
        )
    else:
        parts.append('<p><span class="badge tone-ok">no regression</span></p>')
    parts.append(f'<p class="compare-meta">{esc(report.settings.rule)}.</p>')
    for rate in (True, False):
        rows = _forest_rows(report, rate=rate)
        if rows:
            what = "rates (percentage points)" if rate else "scores (metric units)"
            caption = (
                f"{'gap per variant' if variants else 'candidate − baseline'}: {what}, "
                f"{report.settings.confidence:.0%} intervals"
            )
            parts.append(forest(rows, caption=caption, unit=" pt" if rate else ""))
    parts.append(_table(report))
    if report.warnings:
        parts.append(
            '<ul class="warnings">' + "".join(f"<li>{esc(w)}</li>" for w in report.warnings)
        )
        parts.append("</ul>")
    parts.append("</section>")
    return "".join(parts)


def _unmatched(base: int, cand: int) -> str:
    if not (base or cand):
        return ""
    return f" ({fmt_count(base)} only in the baseline, {fmt_count(cand)} only in the candidate)"


def _forest_rows(report: Report, *, rate: bool) -> list[ForestRow]:
    """Differences with an interval; in variant mode grouped by metric, one line a variant."""
    variants = report.mode == "variants"
    entries: list[tuple[str, str, MetricComparison]] = []
    for comp in report.comparisons:
        for m in comp.metrics:
            if m.kind == "error_count" or m.diff is None or (m.kind in BINARY_KINDS) != rate:
                continue
            entries.append((m.metric, comp.candidate, m))
    if variants:
        order = {name: i for i, name in enumerate(dict.fromkeys(e[0] for e in entries))}
        entries.sort(key=lambda e: order[e[0]])
    out = []
    for metric, variant, m in entries:
        assert m.diff is not None
        out.append(
            ForestRow(
                label=f"{metric} · {variant}" if variants else metric,
                diff=m.diff * 100 if rate else m.diff,
                low=_scaled(m.ci_low, rate),
                high=_scaled(m.ci_high, rate),
                tone=_tone(m),
                note=_note(m, rate),
            )
        )
    return out


def _table(report: Report) -> str:
    variants = report.mode == "variants"
    head = ["metric", *(["variant"] if variants else []), "n", "baseline", "candidate"]
    head += ["difference", "interval", "McNemar p", "verdict"]
    body = []
    for comp in report.comparisons:
        for m in comp.metrics:
            interval = (
                f"[{_signed(m.ci_low)}, {_signed(m.ci_high)}]"
                if m.ci_low is not None and m.ci_high is not None
                else "-"
            )
            cells = [m.metric, *([comp.candidate] if variants else []), fmt_count(m.n)]
            cells += [fmt_number(m.baseline), fmt_number(m.candidate), _signed(m.diff), interval]
            cells += [f"{m.mcnemar.p_value:.3g}" if m.mcnemar else "-", m.verdict]
            body.append(
                f'<tr class="cmp tone-{_tone(m)}" data-metric="{esc(m.metric)}" '
                f'data-regression="{str(m.regression).lower()}">'
                + "".join(f"<td>{esc(c)}</td>" for c in cells)
                + "</tr>"
            )
    return (
        '<table class="grid compare"><thead><tr>'
        + "".join(f"<th>{esc(h)}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table>"
    )
