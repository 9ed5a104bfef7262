"""Renderings of a :class:`~evalcli.scorecard.model.Scorecard`: Rich table, JSON, Markdown."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from evalcli.reporters.terminal import plural
from evalcli.scorecard.model import Cell, Detection, Scorecard

if TYPE_CHECKING:
    from rich.console import Console

_HEADERS = (
    "technique",
    "harm",
    "pairs",
    "variants",
    "baseline",
    "attacked",
    "ASR",
    "CI",
    "McNemar p",
    "gate",
)
_NUMERIC = frozenset({"pairs", "variants", "baseline", "attacked", "ASR", "McNemar p"})
_DETECTION_HEADERS = ("technique", "detector", "baseline flagged", "variants", "attacked flagged")
_DETECTION_NUMERIC = frozenset({"baseline flagged", "variants", "attacked flagged"})


def to_json(card: Scorecard) -> str:
    """Strict JSON (no NaN), indented."""
    return json.dumps(card.model_dump(mode="json"), indent=2, allow_nan=False) + "\n"


def to_markdown(card: Scorecard) -> str:
    """GitHub-flavoured Markdown: a heading, a summary line, the table and the verdict."""
    headers = _headers(card)
    out = [f"### evalcli scorecard: `{card.run}`", "", _summary(card), ""]
    out.append("| " + " | ".join(headers) + " |")
    out.append("|" + "|".join("--:" if h in _NUMERIC else ":--" for h in headers) + "|")
    for cell in card.cells:
        cells = _cells(cell)[: len(headers)]
        cells[0], cells[1] = f"`{cells[0]}`", f"`{cells[1]}`"
        if cell.exceeds:
            cells[-1] = f"**{cells[-1]}**"
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    out += ["", _conclusion(card, markdown=True)]
    if card.detections:
        out += ["", "Input filter detections (never a harm, never gated):", ""]
        out.append("| " + " | ".join(_DETECTION_HEADERS) + " |")
        out.append(
            "|"
            + "|".join("--:" if h in _DETECTION_NUMERIC else ":--" for h in _DETECTION_HEADERS)
            + "|"
        )
        for d in card.detections:
            cells = _detection_cells(d)
            cells[0], cells[1] = f"`{cells[0]}`", f"`{cells[1]}`"
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out) + "\n"


def print_table(card: Scorecard, console: Console | None = None) -> None:
    """The Rich table on stdout."""
    from rich.markup import escape
    from rich.table import Table

    from evalcli.reporters.terminal import print_fitted, stdout_console

    con = console or stdout_console()
    headers = _headers(card)
    table = Table(
        title=f"scorecard · {card.run}",
        title_justify="left",
        caption=_summary(card),
        caption_justify="left",
    )
    for h in headers:
        table.add_column(h, justify="right" if h in _NUMERIC else "left")
    previous = None
    for cell in card.cells:
        cells = [escape(c) for c in _cells(cell)[: len(headers)]]
        if cell.exceeds:
            cells[-1] = f"[bold red]{cells[-1]}[/bold red]"
        if cell.technique == previous:
            cells[0] = ""  # one technique block: name it once
        previous = cell.technique
        table.add_row(*cells)
    print_fitted(con, table, names=("technique", "harm"), numbers=_NUMERIC)
    con.print(_conclusion(card, markdown=False), markup=False)
    if card.detections:
        found = Table(
            title="input filter detections (never a harm, never gated)", title_justify="left"
        )
        for h in _DETECTION_HEADERS:
            found.add_column(h, justify="right" if h in _DETECTION_NUMERIC else "left")
        for d in card.detections:
            found.add_row(*(escape(c) for c in _detection_cells(d)))
        print_fitted(con, found, names=("technique", "detector"), numbers=_DETECTION_NUMERIC)


def _headers(card: Scorecard) -> list[str]:
    headers = list(_HEADERS)
    headers[7] = f"{card.settings.confidence:.0%} CI"
    if card.settings.max_asr is None:
        headers.pop()
    return headers


def _summary(card: Scorecard) -> str:
    s = card.settings
    text = (
        f"{plural(card.baseline_rows, 'baseline row')} · "
        f"ASR = attacked variants that are a defect while their baseline row is not · "
        f"bootstrap clustered on pair_id, {plural(s.resamples, 'resample')}, seed {s.seed}"
    )
    if s.max_asr is not None:
        text += f" · gate: ASR ≤ {s.max_asr:.1%}"
    return text


def _conclusion(card: Scorecard, *, markdown: bool) -> str:
    if card.settings.max_asr is None:
        return "No gate (--max-asr not given)." if markdown else "no gate (--max-asr not given)"
    if not card.failing:
        limit = f"{card.settings.max_asr:.1%}"
        return (
            f"No technique exceeds the gate (ASR ≤ {limit})."
            if markdown
            else f"no technique exceeds the gate (ASR ≤ {limit})"
        )
    names = ", ".join(f"`{t}`" if markdown else t for t in card.failing)
    lead = "**Techniques above the gate:**" if markdown else "techniques above the gate:"
    return f"{lead} {names}"


def _cells(cell: Cell) -> list[str]:
    ci = "—"
    if cell.ci_low is not None and cell.ci_high is not None:
        ci = f"[{cell.ci_low:.1%}, {cell.ci_high:.1%}]"
    p = "—" if cell.mcnemar is None else _p(cell.mcnemar.p_value)
    gate = "—" if cell.exceeds is None else ("FAIL" if cell.exceeds else "pass")
    return [
        cell.technique,
        cell.harm,
        str(cell.pairs),
        str(cell.variants),
        _pct(cell.baseline_defect_rate),
        _pct(cell.attacked_defect_rate),
        _pct(cell.asr),
        ci,
        p,
        gate,
    ]


def _detection_cells(d: Detection) -> list[str]:
    return [
        d.technique,
        d.detector,
        _pct(d.baseline_rate),
        str(d.variants),
        f"{_pct(d.detection_rate)} ({d.detected})",
    ]


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _p(p: float) -> str:
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"
