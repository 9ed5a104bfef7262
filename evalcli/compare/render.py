"""Renderings of a compare :class:`~evalcli.compare.model.Report`: Rich table, JSON, Markdown."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from evalcli.compare.metrics import BINARY_KINDS
from evalcli.compare.model import Comparison, MetricComparison, Report
from evalcli.reporters.terminal import plural

if TYPE_CHECKING:
    from rich.console import Console

_HEADERS = ("metric", "baseline", "candidate", "diff", "CI", "McNemar p", "n", "verdict")
_STYLE = {"better": "green", "worse": "bold red", "worse (below min effect)": "yellow"}


def to_json(report: Report) -> str:
    """Strict JSON (no NaN), indented."""
    return json.dumps(report.model_dump(mode="json"), indent=2, allow_nan=False) + "\n"


def to_markdown(report: Report) -> str:
    """GitHub-flavoured Markdown: a heading, a summary line and a table per comparison."""
    out: list[str] = []
    for comp in report.comparisons:
        headers = _headers(report, comp)
        out.append(f"### evalcli compare: `{comp.baseline}` → `{comp.candidate}`")
        out.append("")
        out.append(_summary(report, comp))
        out.append("")
        out.append("| " + " | ".join(headers) + " |")
        out.append("|" + "|".join(_align(h) for h in headers) + "|")
        for m in comp.metrics:
            cells = [f"`{m.metric}`", *_cells(m)]
            if len(headers) > len(_HEADERS):  # "whole runs" (two runs) or "all rows"
                cells.append(_overall(m))
            if m.verdict in ("worse", "better"):
                cells[7] = f"**{cells[7]}**"
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        out.append("")
    out.append(_conclusion(report, markdown=True))
    return "\n".join(out) + "\n"


def print_table(report: Report, console: Console | None = None) -> None:
    """The Rich table(s) on stdout."""
    from rich.table import Table

    from evalcli.reporters.terminal import print_fitted, stdout_console

    con = console or stdout_console()
    for comp in report.comparisons:
        headers = _headers(report, comp)
        table = Table(
            title=f"compare · {comp.baseline} → {comp.candidate}",
            title_justify="left",
            caption=_summary(report, comp),
            caption_justify="left",
        )
        for h in headers:
            table.add_column(h, justify="right" if _align(h).endswith(":") else "left")
        for m in comp.metrics:
            cells = [m.metric, *_cells(m)]
            if len(headers) > len(_HEADERS):  # "whole runs" (two runs) or "all rows"
                cells.append(_overall(m))
            style = _STYLE.get(m.verdict)
            if style:
                cells[7] = f"[{style}]{cells[7]}[/{style}]"
            table.add_row(*(_escape(c, i == 7 and style is not None) for i, c in enumerate(cells)))
        print_fitted(con, table, names=("metric",), numbers=(headers[4], *headers[8:]))
    con.print(_conclusion(report, markdown=False), markup=False)


def _headers(report: Report, comp: Comparison) -> list[str]:
    headers = list(_HEADERS)
    headers[4] = f"{report.settings.confidence:.0%} CI"
    if any(_overall_differs(m) for m in comp.metrics):
        headers.append("whole runs" if report.mode == "runs" else "all rows")
    return headers


def _align(header: str) -> str:
    return "--:" if header in ("baseline", "candidate", "diff", "McNemar p", "n") else ":--"


def _summary(report: Report, comp: Comparison) -> str:
    p, s = comp.pairing, report.settings
    if report.mode == "runs":
        text = f"{plural(p.paired, 'row')} paired by {p.by}"
    else:
        text = f"{plural(p.paired, 'pair')} (rows grouped by {p.by})"
    if p.unmatched_baseline or p.unmatched_candidate:
        text += (
            f" ({p.unmatched_baseline} only in {comp.baseline}, "
            f"{p.unmatched_candidate} only in {comp.candidate}, left out)"
        )
    text += f" · paired bootstrap, {plural(s.resamples, 'resample')}, seed {s.seed}"
    if s.min_effect:
        text += f" · min effect {s.min_effect:g}"
    return text


def _conclusion(report: Report, *, markdown: bool) -> str:
    if not report.regressions:
        return "No regression." if markdown else "no regression"
    names = ", ".join(f"`{r}`" if markdown else r for r in report.regressions)
    lead = "**Regressions:**" if markdown else "regressions:"
    return f"{lead} {names}"


def _cells(m: MetricComparison) -> list[str]:
    rate = m.kind in BINARY_KINDS
    if m.kind == "error_count":
        value, delta = _count, _signed_count
    elif rate:
        value, delta = _pct, _pp
    else:
        value, delta = _num, _signed
    ci = "—"
    if m.ci_low is not None and m.ci_high is not None:
        if rate:  # one unit for both ends keeps the column narrow
            ci = f"[{m.ci_low * 100:+.1f}, {m.ci_high * 100:+.1f}] pp"
        else:
            ci = f"[{delta(m.ci_low)}, {delta(m.ci_high)}]"
    p = "—" if m.mcnemar is None else _p(m.mcnemar.p_value)
    return [value(m.baseline), value(m.candidate), delta(m.diff), ci, p, str(m.n), m.verdict]


def _overall(m: MetricComparison) -> str:
    fmt = _count if m.kind == "error_count" else _pct if m.kind in BINARY_KINDS else _num
    return f"{fmt(m.baseline_overall)} → {fmt(m.candidate_overall)}"


def _overall_differs(m: MetricComparison) -> bool:
    return not (_close(m.baseline, m.baseline_overall) and _close(m.candidate, m.candidate_overall))


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


def _num(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:.4g}" if abs(v) >= 10 else f"{v:.4f}"


def _signed(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:+.4g}" if abs(v) >= 10 else f"{v:+.4f}"


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v:.1%}"


def _pp(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:+.1f} pp"


def _count(v: float | None) -> str:
    return "—" if v is None else f"{v:g}"


def _signed_count(v: float | None) -> str:
    return "—" if v is None else f"{v:+g}"


def _p(p: float) -> str:
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def _escape(text: str, styled: bool) -> str:
    if styled:
        return text
    from rich.markup import escape

    return escape(text)
