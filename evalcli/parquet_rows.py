"""The rows of a Spark run: ``results.json`` points to a Parquet directory (``rows_parquet``)
instead of holding them; ``compare`` and ``report`` read them from there with pyarrow.

Each Parquet row has a ``row_json`` column: the row exactly as ``results.json`` would hold
it. The part files are written by Spark from line-ordered partitions, so reading them in
name order gives the rows in input order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evalcli.errors import UsageError

ROW_JSON = "row_json"


def parquet_rows(results: Path, pointer: Any, error: type[UsageError]) -> Iterator[dict[str, Any]]:
    """The rows under ``pointer`` (relative to the ``results`` file's directory), in order.

    Raises:
        error: pyarrow is missing, the directory or a part file is unreadable, or a row is
            not a JSON object.
    """
    if not isinstance(pointer, str) or not pointer:
        raise error(
            "invalid results file: `rows_parquet` must name a directory", where=str(results)
        )
    folder = results.parent / pointer
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise error(
            f"the rows of this run are Parquet ({folder}), and pyarrow is not installed",
            where=str(results),
            hint="pip install 'evalcli[spark]' (or pyarrow)",
        ) from None
    if not folder.is_dir():
        raise error("the Parquet rows of this run are missing", where=str(folder))
    parts = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(("_", ".")))
    for part in parts:
        try:
            pfile = pq.ParquetFile(part)
        except (OSError, ValueError) as exc:
            raise error(f"cannot read Parquet: {exc}", where=str(part)) from None
        with pfile:
            for batch in pfile.iter_batches(columns=[ROW_JSON]):
                for index, text in enumerate(batch.column(0).to_pylist(), start=1):
                    try:
                        row = json.loads(text) if isinstance(text, str) else None
                    except ValueError:
                        row = None
                    if not isinstance(row, dict):
                        raise error(
                            f"invalid Parquet rows: row {index} of a batch is not a JSON object",
                            where=str(part),
                        )
                    yield row
