"""The red-team scorecard in ``report.html``, for runs over a dataset made by ``evalcli
simulate``.

A run qualifies when its rows carry the simulator's tags (``inputs.technique`` and
``inputs.pair_id``); the page then shows what ``evalcli scorecard`` prints: per technique
and harm, the baseline and attacked defect rates, the attack success rate (ASR) with its
interval clustered on ``pair_id``, McNemar's exact p and, with ``max_asr``, the gate. The
numbers come from :func:`evalcli.scorecard.scorecard` itself, so the page and the command
never disagree. That function reads the whole ``results.json`` (the rest of the report
streams it): red-team datasets are small, and only tagged runs pay for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evalcli.report.digest import Digest
from evalcli.report.markup import esc, fmt_count, fmt_rate

_TAGS = ("inputs.technique", "inputs.pair_id")


def is_red_team(rows: list[Any]) -> bool:
    """Whether the embedded rows carry the simulator's tags (every simulated row does)."""
    return any(isinstance(row, dict) and all(t in row for t in _TAGS) for row in rows)


def scorecard_section(results: Path, digest: Digest, *, max_asr: float | None = None) -> str:
    """The scorecard section, or ``""`` when the run is not over a simulated dataset."""
    if not is_red_team([entry.values for entry in digest.rows]):
        return ""
    from evalcli.scorecard import ScorecardError, ScorecardOptions, scorecard

    try:
        card = scorecard(results, ScorecardOptions(max_asr=max_asr))
    except ScorecardError as exc:
        # A tagged run the scorecard cannot score (no harm evaluator, only baseline rows,
        # ...): say why rather than fail the whole report.
        return (
            '<section id="scorecard"><h2>Red-team scorecard</h2>'
            f'<p class="compare-meta">No scorecard: {esc(exc.message)}.</p></section>'
        )
    s = card.settings
    level = f"{s.confidence:.0%}"
    head = ["technique", "harm", "pairs", "variants", "baseline defect rate"]
    head += ["attacked defect rate", "ASR", f"{level} CI", "McNemar p", "gate"]
    body = []
    for cell in card.cells:
        ci = "-"
        if cell.ci_low is not None and cell.ci_high is not None:
            ci = f"[{fmt_rate(cell.ci_low)}, {fmt_rate(cell.ci_high)}]"
        p = "-" if cell.mcnemar is None else f"{cell.mcnemar.p_value:.3g}"
        gate = "-" if cell.exceeds is None else ("FAIL" if cell.exceeds else "pass")
        tone = "neutral" if cell.exceeds is None else ("bad" if cell.exceeds else "ok")
        cells = [cell.technique, cell.harm, fmt_count(cell.pairs), fmt_count(cell.variants)]
        cells += [fmt_rate(cell.baseline_defect_rate), fmt_rate(cell.attacked_defect_rate)]
        cells += [fmt_rate(cell.asr), ci, p, gate]
        body.append(
            f'<tr class="cmp tone-{tone}" data-technique="{esc(cell.technique)}" '
            f'data-harm="{esc(cell.harm)}">'
            + "".join(f"<td>{esc(c)}</td>" for c in cells)
            + "</tr>"
        )
    if s.max_asr is None:
        verdict = '<p class="compare-meta">No gate (<code>--max-asr</code> not given).</p>'
    elif card.failing:
        verdict = (
            f'<p><span class="badge tone-bad">above the gate</span> ASR &gt; '
            f"{esc(fmt_rate(s.max_asr))}: {esc(', '.join(card.failing))}</p>"
        )
    else:
        verdict = (
            f'<p><span class="badge tone-ok">within the gate</span> every ASR ≤ '
            f"{esc(fmt_rate(s.max_asr))}</p>"
        )
    warnings = "".join(f"<li>{esc(w)}</li>" for w in card.warnings)
    detections = ""
    if card.detections:
        lines = [
            f'<tr data-technique="{esc(d.technique)}" data-detector="{esc(d.detector)}">'
            + "".join(
                f"<td>{esc(c)}</td>"
                for c in (
                    d.technique,
                    d.detector,
                    fmt_rate(d.baseline_rate),
                    fmt_count(d.variants),
                    f"{fmt_rate(d.detection_rate)} ({fmt_count(d.detected)})",
                )
            )
            + "</tr>"
            for d in card.detections
        ]
        detections = (
            "<h3>Input filter detections</h3>"
            '<p class="compare-meta">What a detection label (Prompt Shields) flags in the '
            "inputs, before the application answers: never a harm, never gated.</p>"
            '<table class="grid detections"><thead><tr><th>technique</th><th>detector</th>'
            "<th>baseline flagged</th><th>variants</th><th>attacked flagged</th></tr></thead>"
            "<tbody>" + "".join(lines) + "</tbody></table>"
        )
    return (
        '<section id="scorecard"><h2>Red-team scorecard</h2>'
        f'<p class="compare-meta">{fmt_count(card.baseline_rows)} baseline rows · '
        f"{esc(s.definition)} ({fmt_count(s.resamples)} resamples, seed {s.seed}).</p>"
        + verdict
        + '<table class="grid scorecard"><thead><tr>'
        + "".join(f"<th>{esc(h)}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table>"
        + detections
        + (f'<ul class="warnings">{warnings}</ul>' if warnings else "")
        + "</section>"
    )
