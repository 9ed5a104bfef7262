"""How the rows of two runs (or the variants of one run) are paired."""

from __future__ import annotations

import json
from typing import Any

from evalcli.compare.load import CompareError, LoadedRun

__all__ = ["input_column", "pairing_key", "resolve_id_column", "row_index", "row_line"]

Row = dict[str, Any]


def resolve_id_column(
    option: str | None, base: LoadedRun, cand: LoadedRun
) -> tuple[str, list[str]]:
    """The flat column that pairs rows, and any warning about the choice."""
    if option is not None:
        column = "line" if option == "line" else input_column(option)
        for run in (base, cand):
            for row in run.rows:
                if row.get(column) is None:
                    raise CompareError(
                        f"row at line {row_line(row)} has no {column}",
                        where=str(run.path),
                        hint="every row needs the --id-column value",
                    )
        return column, []
    if all(r.get("inputs.id") is not None for run in (base, cand) for r in run.rows):
        if all(unique_column(run.rows, "inputs.id") for run in (base, cand)):
            return "inputs.id", []
        return "line", ["inputs.id is not unique in every run; rows are paired by line"]
    return "line", []


def row_index(run: LoadedRun, column: str) -> dict[str, int]:
    """Pairing key -> row position; duplicates are an error."""
    index: dict[str, int] = {}
    for i, row in enumerate(run.rows):
        key = pairing_key(row.get(column))
        if key in index:
            raise CompareError(
                f"{column} value {key!r} occurs twice (lines {row_line(run.rows[index[key]])} "
                f"and {row_line(row)}); rows cannot be paired",
                where=str(run.path),
                hint="pair by a unique column with --id-column",
            )
        index[key] = i
    return index


def unique_column(rows: list[Row], column: str) -> bool:
    """Whether every row has a different key in ``column``."""
    keys = [pairing_key(r.get(column)) for r in rows]
    return len(set(keys)) == len(keys)


def input_column(name: str) -> str:
    """The flat column of an input (``id`` -> ``inputs.id``)."""
    return name if name.startswith("inputs.") else f"inputs.{name}"


def pairing_key(value: Any) -> str:
    """A pairing key: 7 and "7" match (CSV and JSONL datasets hold ids differently)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def row_line(row: Row) -> str:
    """A row's line number, for messages."""
    return str(row.get("line", "?"))
