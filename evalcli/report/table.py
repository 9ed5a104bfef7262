"""The rows table: the embedded rows as one JSON data block, and the table's controls.

The rows travel as columns + arrays (no key repeated per row, floats to six significant
digits, long texts cut; see :func:`evalcli.report.digest.cut_text`), which keeps a report
near 1 KB per row. ``report.js`` builds the table from them with ``textContent`` only.

Payload layout (``rows-data``)::

    {"columns": [[group, label], ...],      # group: "in", "out" (target) or an evaluator
     "evaluators": [alias, ...],
     "preview": [column, ...],              # texts shown in the collapsed row
     "scores": [[column, label, metric], ...],
     "rows": [[line, [failed evaluator], [errored evaluator], [value per column], turns]]}

``turns`` is null, or ``[column, [[user, assistant], ...]]`` for a row whose input
``column`` is a conversation evaluated turn by turn; the per-turn results sit in the
``evaluation_per_turn`` column of each evaluator.
"""

from __future__ import annotations

import math
from typing import Any

from evalcli.conversation import PER_TURN_KEY, split_turns
from evalcli.errors import RowError
from evalcli.report.digest import Digest, RowEntry, cut_text
from evalcli.report.markup import esc, fmt_count, json_script

_PREVIEWS = 2


def rows_section(digest: Digest) -> str:
    """The table's heading, notice, controls, empty table and data block."""
    payload = table_payload(digest)
    options = "".join(
        f'<option value="{i}">{esc(alias)}</option>' for i, alias in enumerate(digest.evaluators)
    )
    return (
        '<section id="rows-section"><h2>Rows</h2>'
        f'<p class="notice" id="rows-notice">{esc(rows_notice(digest))}</p>'
        '<div class="controls" role="search">'
        '<label>show <select id="f-result"><option value="all">all rows</option>'
        '<option value="fail">failing</option><option value="error">erroring</option>'
        '<option value="pass">passing, no error</option></select></label> '
        '<label>evaluator <select id="f-evaluator"><option value="">any</option>'
        f"{options}</select></label> "
        '<label>search <input id="f-search" type="search" placeholder="text in any value" '
        'autocomplete="off"></label> <span id="f-count" aria-live="polite"></span></div>'
        "<noscript><p>The rows table needs JavaScript; every row is in results.json and "
        "results.csv.</p></noscript>"
        '<table id="rows" class="rows"><thead></thead><tbody></tbody></table>'
        '<p id="rows-more" class="more" hidden><button type="button" id="rows-more-button">'
        'show more</button> <button type="button" id="rows-all-button">show all</button></p>'
        + json_script("rows-data", payload)
        + "</section>"
    )


def rows_notice(digest: Digest) -> str:
    """What the table holds, and what it leaves out."""
    total, shown = digest.total_rows, len(digest.rows)
    counts = f"{fmt_count(digest.failing_rows)} failing, {fmt_count(digest.erroring_rows)} erroring"
    if shown >= total:
        return f"All {fmt_count(total)} rows ({counts}). Click a row for its details."
    if digest.flagged_cut:
        lead = f"the first {fmt_count(shown)} failing or erroring rows"
    else:
        kept = sum(1 for e in digest.rows if e.failed or e.errored)
        lead = (
            f"every failing or erroring row ({fmt_count(kept)}), then a fixed sample of "
            f"{fmt_count(shown - kept)} of the other {fmt_count(total - kept)}"
        )
    return (
        f"The table embeds {fmt_count(shown)} of {fmt_count(total)} rows ({counts}): {lead}. "
        f"Past {fmt_count(digest.max_rows)} rows a report embeds no more; every row is in "
        "results.json and results.csv."
    )


def table_payload(digest: Digest) -> dict[str, Any]:
    """The JSON the table script reads (see the module docstring)."""
    aliases = digest.evaluators
    alias_index = {a: i for i, a in enumerate(aliases)}
    columns: list[list[str]] = []
    index: dict[str, int] = {}
    # Per key: (column, a text shown in the collapsed row?, a conversation's per-turn results?)
    slots: dict[str, tuple[int, bool, bool]] = {}
    lengths: dict[int, int] = {}  # text length per input / target output column
    rows: list[list[Any]] = []
    # Most values are scores repeated from row to row: each distinct float is shortened once.
    floats: dict[float, float | None] = {}
    for entry in digest.rows:
        values: list[Any] = [None] * len(columns)
        turns = False
        for key, value in entry.values.items():
            slot = slots.get(key)
            if slot is None:
                if key == "line":
                    continue
                group, label = _column(key, aliases)
                slot = slots[key] = (len(columns), group in ("in", "out"), label == PER_TURN_KEY)
                index[key] = len(columns)
                columns.append([group, label])
                values.append(None)
            i, previewable, per_turn = slot
            kind = type(value)
            if kind is str:  # the common cases first
                values[i] = value
                if previewable:
                    lengths[i] = lengths.get(i, 0) + len(value)
            elif kind is float and value:  # (0.0 and -0.0: equal keys, written apart)
                short = floats.get(value)
                if short is None:
                    short = floats[value] = _compact(value)
                values[i] = short
            elif value is not None:  # (None is there already)
                values[i] = _compact(value)
            turns = turns or per_turn
        rows.append(
            [
                entry.line,
                [alias_index[a] for a in entry.failed if a in alias_index],
                [alias_index[a] for a in entry.errored if a in alias_index],
                values,
                _turns(entry, index) if turns else None,
            ]
        )
    scores = []
    for m in digest.metrics:
        if m.kind != "mean" or m.definition is None:
            continue
        key = f"outputs.{m.definition.evaluator}.{m.definition.source_key}"
        if key in index:
            scores.append([index[key], m.short, m.name])  # the full name is the tooltip
    # The inputs or target outputs with the longest texts: shown in the collapsed rows.
    preview = sorted(sorted(lengths, key=lambda c: -lengths[c])[:_PREVIEWS])
    return {
        "columns": columns,
        "evaluators": aliases,
        "preview": preview,
        "scores": scores,
        "rows": rows,
    }


def _column(key: str, aliases: list[str]) -> tuple[str, str]:
    """(group, label) of a flat key: ``in``, ``out`` (the target's outputs) or an alias."""
    if key.startswith("inputs."):
        return "in", key.removeprefix("inputs.")
    rest = key.removeprefix("outputs.")
    for alias in aliases:
        if rest.startswith(alias + "."):
            return alias, rest.removeprefix(alias + ".")
    return "out", rest


def _turns(entry: RowEntry, index: dict[str, int]) -> list[Any] | None:
    """``[column, [[user, assistant], ...]]``: the conversation input of a row evaluated turn
    by turn, split as the run split it (the table shows the turns instead of the JSON)."""
    for key, value in entry.values.items():
        if key.startswith("inputs.") and isinstance(value, dict | list):
            try:
                turns = split_turns(value)
            except RowError:
                continue
            return [index[key], [[cut_text(t.query), cut_text(t.response)] for t in turns]]
    return None


def _compact(value: Any) -> Any:
    """Floats to six significant digits (results.json keeps them all)."""
    if type(value) is float:
        return float(f"{value:.6g}") if math.isfinite(value) else None
    if isinstance(value, list):
        return [_compact(v) for v in value]
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items()}
    return value
