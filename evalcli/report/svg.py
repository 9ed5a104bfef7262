"""Inline SVG charts drawn in Python: bar distributions, stacked shares and forest plots.

Charts carry their numbers twice: as shapes, and as ``data-*`` attributes and ``<title>``
tooltips, so that a reader can hover for exact counts and tests can check them against
``results.json``. Colours come from CSS classes (``tone-ok``, ``tone-bad``, ...), defined in
the page's stylesheet, so that printing and the page theme stay in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from evalcli.report.markup import esc, fmt_number

_W = 360  # viewBox width of distribution and share charts
_PAD_L, _PAD_R = 34, 8


@dataclass(frozen=True)
class Bar:
    """One bar of a distribution: a value or a bin, how many rows fell in it, its tone."""

    label: str
    count: int
    tone: str = "neutral"  # ok / bad / neutral
    title: str = ""


@dataclass(frozen=True)
class Marker:
    """A vertical line across a distribution, at ``position`` in bar units (bar i spans
    [i, i + 1]); ``kind`` is ``threshold``, ``defect`` or ``mean``."""

    position: float
    label: str
    kind: str


@dataclass(frozen=True)
class Segment:
    """One part of a stacked share bar."""

    label: str
    count: int
    tone: str = "neutral"


@dataclass(frozen=True)
class ForestRow:
    """One paired difference with its interval (None: no interval was computed)."""

    label: str
    diff: float
    low: float | None
    high: float | None
    tone: str  # bad (regression) / ok (significant improvement) / neutral
    note: str = ""


def distribution(bars: list[Bar], markers: list[Marker], *, metric: str, caption: str) -> str:
    """Vertical bars with a count axis and threshold/mean lines."""
    height, top, bottom = 166, 36, 134
    n = max(len(bars), 1)
    inner = _W - _PAD_L - _PAD_R
    step = inner / n
    peak = max((b.count for b in bars), default=0) or 1
    parts = [
        f'<svg class="chart dist" viewBox="0 0 {_W} {height}" role="img" '
        f'data-metric="{esc(metric)}" aria-label="{esc(caption)}">',
        f"<title>{esc(caption)}</title>",
        f'<line class="axis" x1="{_PAD_L}" y1="{bottom}" x2="{_W - _PAD_R}" y2="{bottom}"/>',
        f'<text class="tick" x="{_PAD_L - 4}" y="{top + 4}" text-anchor="end">{peak}</text>',
        f'<text class="tick" x="{_PAD_L - 4}" y="{bottom}" text-anchor="end">0</text>',
    ]
    label_every = max(1, round(n / 10))
    for i, bar in enumerate(bars):
        h = (bottom - top) * bar.count / peak
        x = _PAD_L + i * step + step * 0.1
        tip = bar.title or f"{bar.label}: {bar.count}"
        parts.append(
            f'<rect class="bar tone-{esc(bar.tone)}" x="{x:.1f}" y="{bottom - h:.1f}" '
            f'width="{step * 0.8:.1f}" height="{max(h, 0.0):.1f}" data-count="{bar.count}" '
            f'data-label="{esc(bar.label)}"><title>{esc(tip)}</title></rect>'
        )
        if i % label_every == 0:
            parts.append(
                f'<text class="tick" x="{_PAD_L + (i + 0.5) * step:.1f}" y="{bottom + 12}" '
                f'text-anchor="middle">{esc(bar.label)}</text>'
            )
    for k, m in enumerate(markers):
        x = _PAD_L + min(max(m.position, 0.0), float(n)) * step
        y_text = 9 + 10 * min(k, 2)  # labels above the plot area, one line each
        anchor = "end" if x > _W / 2 else "start"
        dx = -3 if anchor == "end" else 3
        parts.append(
            f'<line class="marker marker-{esc(m.kind)}" x1="{x:.1f}" y1="{top - 4}" '
            f'x2="{x:.1f}" y2="{bottom}" data-kind="{esc(m.kind)}"><title>{esc(m.label)}</title>'
            "</line>"
        )
        parts.append(
            f'<text class="marker-label marker-{esc(m.kind)}" x="{x + dx:.1f}" '
            f'y="{y_text}" text-anchor="{anchor}">{esc(m.label)}</text>'
        )
    parts.append(
        f'<text class="tick" x="{_PAD_L + inner / 2:.0f}" y="{height - 4}" '
        f'text-anchor="middle">{esc(caption)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def shares(
    segments: list[Segment],
    *,
    metric: str,
    caption: str,
    marker_after: int | None = None,
    marker_label: str = "",
) -> str:
    """One horizontal bar split into segments (labels below), optionally with a marker
    between segment ``marker_after`` and the next (a defect threshold between bands)."""
    height, y, bar_h = 62, 14, 18
    inner = _W - 2 * _PAD_R
    total = sum(s.count for s in segments) or 1
    parts = [
        f'<svg class="chart shares" viewBox="0 0 {_W} {height}" role="img" '
        f'data-metric="{esc(metric)}" aria-label="{esc(caption)}"><title>{esc(caption)}</title>',
        f'<text class="tick" x="{_PAD_R}" y="10">{esc(caption)}</text>',
    ]
    x = float(_PAD_R)
    marker_x: float | None = None
    legend_x = float(_PAD_R)
    for i, seg in enumerate(segments):
        w = inner * seg.count / total
        share = seg.count / total
        parts.append(
            f'<rect class="seg tone-{esc(seg.tone)}" x="{x:.1f}" y="{y}" width="{w:.1f}" '
            f'height="{bar_h}" data-count="{seg.count}" data-label="{esc(seg.label)}">'
            f"<title>{esc(seg.label)}: {seg.count} ({share:.0%})</title></rect>"
        )
        x += w
        if marker_after is not None and i == marker_after:
            marker_x = x
        legend = f"{seg.label} {seg.count}"
        parts.append(
            f'<rect class="swatch tone-{esc(seg.tone)}" x="{legend_x:.1f}" y="{y + bar_h + 8}" '
            'width="8" height="8"/>'
            f'<text class="tick" x="{legend_x + 11:.1f}" y="{y + bar_h + 16}">{esc(legend)}</text>'
        )
        legend_x += 16 + 6.2 * len(legend)
    if marker_x is not None:
        parts.append(
            f'<line class="marker marker-defect" x1="{marker_x:.1f}" y1="{y - 4}" '
            f'x2="{marker_x:.1f}" y2="{y + bar_h + 4}" data-kind="defect">'
            f"<title>{esc(marker_label)}</title></line>"
        )
    parts.append("</svg>")
    return "".join(parts)


def split_bar(good: int, bad: int, *, metric: str, words: tuple[str, str]) -> str:
    """A small bar for a rate: the good share in green, the bad share in red."""
    width, height = 120, 10
    total = good + bad
    parts = [
        f'<svg class="chart split" viewBox="0 0 {width} {height}" role="img" '
        f'data-metric="{esc(metric)}" aria-label="{good} {esc(words[0])}, {bad} {esc(words[1])}">'
    ]
    x = 0.0
    for count, word, tone in ((good, words[0], "ok"), (bad, words[1], "bad")):
        w = width * count / total if total else 0.0
        parts.append(
            f'<rect class="seg tone-{tone}" x="{x:.1f}" y="0" width="{w:.1f}" '
            f'height="{height}" data-count="{count}" data-label="{esc(word)}">'
            f"<title>{esc(word)}: {count}</title></rect>"
        )
        x += w
    parts.append("</svg>")
    return "".join(parts)


def forest(rows: list[ForestRow], *, caption: str, unit: str) -> str:
    """A forest plot: one line per difference, its interval as a whisker, zero marked."""
    label_w, right_w, row_h, top = 190, 150, 22, 26
    width = 720
    plot_l, plot_r = label_w, width - right_w
    height = top + row_h * max(len(rows), 1) + 24
    span = max(
        (abs(v) for r in rows for v in (r.diff, r.low, r.high) if v is not None), default=0.0
    )
    span = span * 1.1 or 1.0

    def x_of(v: float) -> float:
        return plot_l + (v + span) / (2 * span) * (plot_r - plot_l)

    zero = x_of(0.0)
    parts = [
        f'<svg class="chart forest" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{esc(caption)}"><title>{esc(caption)}</title>',
        f'<text class="tick" x="{plot_l}" y="12">{esc(caption)}</text>',
        f'<line class="zero" x1="{zero:.1f}" y1="{top - 6}" x2="{zero:.1f}" y2="{height - 20}"/>',
    ]
    for v in (-span / 1.1, span / 1.1):
        parts.append(
            f'<text class="tick" x="{x_of(v):.1f}" y="{height - 6}" text-anchor="middle">'
            f"{esc(_signed(v))}{esc(unit)}</text>"
        )
    parts.append(
        f'<text class="tick" x="{zero:.1f}" y="{height - 6}" text-anchor="middle">0</text>'
    )
    for i, r in enumerate(rows):
        y = top + i * row_h + row_h / 2
        tip = f"{r.label}: {_signed(r.diff)}{unit}"
        if r.low is not None and r.high is not None:
            tip += f" [{_signed(r.low)}, {_signed(r.high)}]"
        parts.append(
            f'<g class="frow tone-{esc(r.tone)}" data-label="{esc(r.label)}" '
            f'data-diff="{r.diff!r}"><title>{esc(tip)}</title>'
            f'<text class="flabel" x="{label_w - 8}" y="{y + 4:.1f}" text-anchor="end">'
            f"{esc(_clip(r.label, 30))}</text>"
        )
        if r.low is not None and r.high is not None:
            parts.append(
                f'<line class="ci" x1="{x_of(r.low):.1f}" y1="{y:.1f}" x2="{x_of(r.high):.1f}" '
                f'y2="{y:.1f}"/>'
            )
        parts.append(f'<circle class="pt" cx="{x_of(r.diff):.1f}" cy="{y:.1f}" r="4"/>')
        parts.append(
            f'<text class="fnote" x="{plot_r + 8}" y="{y + 4:.1f}">{esc(r.note)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _signed(v: float) -> str:
    text = fmt_number(v, 3)
    return text if text.startswith("-") or text == "0" else f"+{text}"


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
