"""Reading the seed dataset and writing the simulated one with its ``.meta.json`` sidecar.

The output is JSON Lines, one row per line, each row holding the input row's columns (the
attacked one changed) followed by the tags ``simulate`` adds. Nothing else goes into the
file: a header line would be read as a row by ``evalcli run``. What produced the file — the
evalcli version, the seed, the options and the id, version and digest of every template
used — goes into a sidecar ``<output>.meta.json`` next to it instead; the version of each
template is also in every row (``template_version``), so results stay traceable on their
own. Neither file holds a timestamp: the same input, seed and templates give the same bytes.

Both files are written to a temporary name first and renamed into place, so an error midway
leaves no half-written dataset behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from evalcli.dataset import MISSING, Dataset, Row, lookup
from evalcli.simulate.errors import SimulateError

#: Columns ``simulate`` adds to every row (indirect adds a few more, see indirect.py).
TAG_COLUMNS = (
    "pair_id",
    "variant_id",
    "technique",
    "template_id",
    "template_version",
    "converter",
)


def open_dataset(path: Path) -> Dataset:
    """The input dataset, structurally checked (any format ``evalcli run`` reads).

    Raises:
        DatasetError: missing, unreadable, malformed or empty file (exit 2).
    """
    dataset = Dataset(path)
    dataset.scan()
    return dataset


def pair_ids(dataset: Dataset, id_column: str | None) -> tuple[str | None, list[str]]:
    """The column naming each baseline row, and every row's pair id in order.

    With ``id_column`` every row must have a unique, non-empty scalar there. Without it,
    ``id`` is used when every row has a unique one; otherwise rows are named by their
    1-based position.

    Raises:
        SimulateError: ``id_column`` is missing from a row, empty or repeated.
    """
    column = id_column or "id"
    ids: list[str] = []
    seen: dict[str, int] = {}
    for row in dataset.rows():
        value = row.data.get(column, MISSING)
        text = _scalar(value)
        problem = None
        if text is None:
            problem = f"has no usable {column!r} value (a non-empty text or number is needed)"
        elif text in seen:
            problem = f"repeats {column} {text!r} of row {seen[text]}"
        if problem is not None:
            if id_column is None:  # no usable `id`: fall back to positions
                return None, [str(i) for i in range(1, _count(dataset) + 1)]
            raise SimulateError(
                f"row {row.line} {problem}",
                where=f"{dataset.path}:{row.line}",
                hint="--id-column names the column that identifies each baseline row",
            )
        assert text is not None
        seen[text] = row.line
        ids.append(text)
    return column, ids


def _count(dataset: Dataset) -> int:
    return sum(1 for _ in dataset.rows())


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool) or value is MISSING or value is None:
        return None
    if isinstance(value, int | float | str) and str(value).strip():
        return str(value)
    return None


def check_no_tags(row: Row, dataset: Dataset, columns: tuple[str, ...]) -> None:
    """Refuse an input row that already has a column ``simulate`` would write."""
    for name in columns:
        if name in row.data:
            raise SimulateError(
                f"row {row.line} already has a {name!r} column, which simulate writes",
                where=f"{dataset.path}:{row.line}",
                hint="give simulate the baseline dataset, not one it generated",
            )


def missing_column(dataset: Dataset, row: Row, path: str, option: str) -> SimulateError:
    """The error for a row without the column to attack (names the columns it has)."""
    available = ", ".join(list(row.data)[:30]) or "none"
    return SimulateError(
        f"row {row.line} has no {path!r} column to attack",
        where=f"{dataset.path}:{row.line}",
        hint=f"{option} names the column; this row has: {available}",
    )


def get_path(data: dict[str, Any], path: str) -> Any:
    """The value at a dotted path (``documents.1.content``), or MISSING."""
    return lookup(data, tuple(path.split(".")))


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Replace the value at a dotted path that exists (see :func:`get_path`)."""
    *parents, last = path.split(".")
    node: Any = lookup(data, tuple(parents)) if parents else data
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


class Output:
    """Writes the simulated rows; :meth:`commit` renames the files into place."""

    def __init__(self, path: Path, input_path: Path) -> None:
        if path.resolve() == input_path.resolve():
            raise SimulateError(
                "--output must differ from --input (the baseline would be overwritten)",
                where=str(path),
            )
        if path.is_dir():
            raise SimulateError("--output is a directory; name a .jsonl file", where=str(path))
        parent = path.parent
        if not parent.is_dir():
            raise SimulateError(
                "the output's directory does not exist", where=str(path), hint=f"mkdir {parent}"
            )
        self.path = path
        self.meta_path = meta_path(path)
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
        except OSError as exc:
            raise SimulateError(
                f"cannot write the output ({exc.strerror})", where=str(path)
            ) from None
        self._tmp = Path(tmp)
        self._fh: IO[bytes] = os.fdopen(fd, "wb")
        self._digest = hashlib.sha256()
        self.rows = 0

    def write(self, row: dict[str, Any]) -> None:
        """Append one row (one JSON line)."""
        line = json.dumps(row, ensure_ascii=False, allow_nan=False)
        try:
            data = (line + "\n").encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: only a \u escape carries it in UTF-8
            data = (json.dumps(row, allow_nan=False) + "\n").encode("ascii")
        self._fh.write(data)
        self._digest.update(data)
        self.rows += 1

    @property
    def sha256(self) -> str:
        """Digest of the bytes written so far."""
        return self._digest.hexdigest()

    def commit(self, meta: dict[str, Any]) -> None:
        """Close the data file, write the sidecar, and move both into place."""
        self._fh.close()
        text = json.dumps(meta, indent=2, ensure_ascii=False) + "\n"
        meta_tmp = self._tmp.with_suffix(".meta.tmp")
        meta_tmp.write_text(text, encoding="utf-8")
        self._tmp.replace(self.path)
        meta_tmp.replace(self.meta_path)

    def abort(self) -> None:
        """Close and delete the temporary file."""
        with contextlib.suppress(OSError):
            self._fh.close()
        self._tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def output_file(path: Path, input_path: Path) -> Iterator[Output]:
    """An :class:`Output` that is removed unless the block commits it."""
    out = Output(path, input_path)
    try:
        yield out
    finally:
        if out._tmp.exists():
            out.abort()


def meta_path(output: Path) -> Path:
    """``attack.jsonl`` -> ``attack.jsonl.meta.json``."""
    return output.with_name(output.name + ".meta.json")


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
