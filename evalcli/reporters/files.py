"""Incremental results.json and results.csv writers.

Rows are written as they finish: CSV straight into ``results.csv``, JSON into a temporary
part file (one row per line, separated by commas: the inside of the ``rows`` array) that is
copied into ``results.json`` when the run ends (the run's metrics and status are only known
then). Both final files appear atomically (write to a temporary name, then rename), so a
reader never sees half a file.
"""

from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path
from typing import IO, Any

from evalcli.conversation import PER_TURN_KEY
from evalcli.plan import RunPlan
from evalcli.results import RowResult, RunResult
from evalcli.textsafe import json_text, replace_surrogates

JSON_NAME = "results.json"
CSV_NAME = "results.csv"


def strict(value: Any) -> Any:
    """Replace non-finite floats (never produced on purpose) by None so JSON stays strict."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strict(v) for v in value]
    return value


def dumps(value: Any) -> str:
    """Strict JSON text (raises on NaN rather than writing it) that encodes as UTF-8.

    Text stays readable (no ``ensure_ascii``); lone surrogates become ``\\uXXXX`` escapes
    (see :mod:`evalcli.textsafe`).
    """
    return json_text(value, allow_nan=False)


def csv_safe(value: Any) -> Any:
    """A CSV cell that encodes as UTF-8 (lone surrogates become U+FFFD)."""
    return replace_surrogates(value) if isinstance(value, str) else value


class RowEncoder:
    """One finished row as its results.json text and its results.csv cells.

    Shared by :class:`ResultFiles` and the Spark engine's Parquet rows (same columns).
    """

    def __init__(self, plan: RunPlan):
        self.columns = csv_columns(plan)
        self._per_turn_keys = [
            f"outputs.{b.alias}.{PER_TURN_KEY}"
            for b in plan.evaluators
            if b.conversation is not None
        ]
        self._known = set(self.columns)
        # Evaluators that may return keys nobody declared (code evaluators returning a dict):
        # CSV columns are fixed up front, so those keys share one JSON column per evaluator.
        self._open = [f"outputs.{b.alias}" for b in plan.evaluators if b.evaluator.open_outputs]

    def encode(self, row: RowResult) -> tuple[str, list[Any]]:
        """(the row's strict JSON text, its CSV cells in :attr:`columns` order)."""
        flat = row.flat()
        try:
            text = dumps(flat)
        except ValueError:  # a NaN/inf slipped through (custom code): write null instead
            flat = strict(flat)
            text = dumps(flat)
        cells = flat
        for key in self._per_turn_keys:
            per_turn = flat.get(key)
            if isinstance(per_turn, dict):  # nested in JSON, one column per key in CSV
                cells = {**cells, **{f"{key}.{k}": v for k, v in per_turn.items()}}
        if self._open:
            cells = {**cells, **{col: self._undeclared(cells, col) for col in self._open}}
        values = map(cells.get, self.columns)
        # dumps() writes each lone surrogate as a \udXXX escape, and otherwise writes "\ud"
        # only after a backslash of the data: when the text has none, no string of the row
        # holds a surrogate, and texts and numbers (most cells) need no conversion. This
        # runs for every row, in the process that also feeds the workers.
        if "\\ud" not in text:
            return text, [v if type(v) in _AS_IS else _cell(v) for v in values]
        return text, [_cell(v) for v in values]

    def _undeclared(self, cells: dict[str, Any], column: str) -> dict[str, Any] | None:
        """The values under ``<column>.`` that have no CSV column of their own."""
        prefix = column + "."
        rest = {
            key[len(prefix) :]: value
            for key, value in cells.items()
            if key.startswith(prefix) and key not in self._known
        }
        rest.pop(PER_TURN_KEY, None)  # its keys were spread into cells above
        return rest or None


class ResultFiles:
    """Streams rows into ``results.csv`` and a part file; finalises ``results.json``."""

    def __init__(self, plan: RunPlan, out_dir: Path):
        self.out_dir = out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        self.json_path = out_dir / JSON_NAME
        self.csv_path = out_dir / CSV_NAME
        self._part_path = out_dir / f".{JSON_NAME}.rows.part"
        self._csv_tmp = out_dir / f".{CSV_NAME}.part"
        self._part: IO[str] = self._part_path.open("w", encoding="utf-8")
        self._csv_fh: IO[str] = self._csv_tmp.open("w", encoding="utf-8", newline="")
        self._encoder = RowEncoder(plan)
        self.columns = self._encoder.columns
        self._csv = csv.writer(self._csv_fh)
        self._csv.writerow(self.columns)
        self.rows_written = 0

    def write(self, row: RowResult) -> None:
        """Append one finished row to both files."""
        text, cells = self._encoder.encode(row)
        if self.rows_written:  # the part file is the inside of the rows array, ready to copy
            self._part.write(",\n")
        self._part.write(text)
        self._csv.writerow(cells)
        self.rows_written += 1

    def finish(self, result: RunResult) -> None:
        """Write results.json (header + streamed rows) and publish both files."""
        self._part.close()
        self._csv_fh.close()
        header = result.model_dump(mode="json", exclude={"rows", "output_dir"})
        tmp = self.out_dir / f".{JSON_NAME}.tmp"
        with tmp.open("w", encoding="utf-8") as out, self._part_path.open(encoding="utf-8") as rows:
            head = dumps(strict(header))
            out.write(head[:-1])  # reopen the object to append "rows"
            out.write(', "rows": [')
            shutil.copyfileobj(rows, out)
            out.write("]}\n")
        tmp.replace(self.json_path)
        self._csv_tmp.replace(self.csv_path)
        self._part_path.unlink(missing_ok=True)

    def abort(self) -> None:
        """Remove temporary files (used when nothing should be published)."""
        for fh in (self._part, self._csv_fh):
            if not fh.closed:
                fh.close()
        for p in (self._part_path, self._csv_tmp):
            p.unlink(missing_ok=True)


def csv_columns(plan: RunPlan) -> list[str]:
    """CSV header from the dataset's columns and the evaluators' declared outputs."""
    cols = ["line"]
    cols += [f"inputs.{c}" for c in plan.scan.columns]
    for b in plan.evaluators:
        prefix = f"outputs.{b.alias}."
        cols += [prefix + f.key for f in b.evaluator.outputs]
        cols += [prefix + "error", prefix + "error_kind"]
        cols += [prefix + k for k in b.evaluator.extra_csv_keys]
        if b.conversation is not None:
            cols += [f"{prefix}{PER_TURN_KEY}.{f.key}" for f in b.evaluator.outputs]
        if b.evaluator.open_outputs:
            cols.append(f"outputs.{b.alias}")  # undeclared keys, as one JSON object
    return cols


#: Cell types written as they are (strings known to hold no lone surrogate).
_AS_IS = frozenset({str, int, float})


def _cell(value: Any) -> Any:
    """One CSV cell: empty for null, JSON for containers, true/false, UTF-8-safe text."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return csv_safe(dumps(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return csv_safe(value)
