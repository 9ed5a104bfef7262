"""Streaming dataset readers (JSONL, CSV, JSON array, Parquet) with 1-based row numbers.

A dataset is read twice: :meth:`Dataset.scan` checks the structure of the whole file (up to
the row limit) before anything runs, so a malformed line 90,000 fails the run at once instead
of after an hour of judge calls; :meth:`Dataset.rows` then streams the rows in bounded memory.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from evalcli.errors import DatasetError

Format = Literal["jsonl", "csv", "json", "parquet"]
SUFFIXES: dict[str, Format] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".json": "json",
    ".parquet": "parquet",
}
DataPath = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Row:
    """One dataset row. ``line`` is its 1-based position among the rows (CSV header excluded)."""

    line: int
    data: dict[str, Any]


@dataclass
class DatasetScan:
    """What the pre-run scan learned about the file."""

    path: Path
    format: Format
    rows: int
    columns: list[str]
    sha256: str
    path_hits: dict[DataPath, int] = field(default_factory=dict)


class Dataset:
    """A dataset file.

    Args:
        path: The file.
        fmt: Explicit format; by default taken from the suffix.
        limit: Read at most this many rows.
        where: Config location that named the file (used when the file itself is the problem).
    """

    def __init__(
        self,
        path: Path,
        fmt: Format | None = None,
        limit: int | None = None,
        where: str | None = None,
    ):
        self.path = path
        self.limit = limit
        self._where = where
        if fmt is None:
            fmt = SUFFIXES.get(path.suffix.lower())
            if fmt is None:
                raise DatasetError(
                    f"unsupported dataset suffix {path.suffix or '(none)'!r} for {path}",
                    where=where,
                    hint="use .jsonl, .csv, .json or .parquet, or set dataset.format",
                )
        self.format: Format = fmt

    def scan(self, data_paths: Sequence[DataPath] = ()) -> DatasetScan:
        """Check the structure of every row and count, per mapped path, the rows that have it.

        Raises:
            DatasetError: missing or unreadable file, malformed row, or no rows at all.
        """
        if not self.path.exists():
            raise DatasetError(f"dataset file not found: {self.path}", where=self._where)
        if self.path.is_dir():
            raise DatasetError(f"dataset path is a directory: {self.path}", where=self._where)
        columns: dict[str, None] = {}
        hits = dict.fromkeys(data_paths, 0)
        count = 0
        for row in self.rows():
            count += 1
            for key in row.data:
                if key not in columns:
                    columns[key] = None
            for dp in data_paths:
                if lookup(row.data, dp) is not MISSING:
                    hits[dp] += 1
        if count == 0:
            raise DatasetError(f"dataset has no rows: {self.path}", where=self._where)
        return DatasetScan(self.path, self.format, count, list(columns), _sha256(self.path), hits)

    def rows(self) -> Iterator[Row]:
        """Stream the rows (structure errors raise :class:`DatasetError`)."""
        reader = {
            "jsonl": self._jsonl,
            "csv": self._csv,
            "json": self._json,
            "parquet": self._parquet,
        }[self.format]
        for row in reader():
            if self.limit is not None and row.line > self.limit:
                return
            yield row

    def _err(self, line: int | None, message: str, hint: str | None = None) -> DatasetError:
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        return DatasetError(message, where=where, hint=hint)

    def _open_error(self, exc: OSError) -> DatasetError:
        return DatasetError(f"cannot read dataset: {exc.strerror}", where=str(self.path))

    def _jsonl(self) -> Iterator[Row]:
        try:
            fh = self.path.open("rb")
        except OSError as exc:
            raise self._open_error(exc) from None
        with fh:
            n = 0
            for lineno, raw in enumerate(fh, start=1):
                if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                if not raw.strip():
                    continue  # blank lines (often a trailing newline) are not rows
                try:
                    obj = json.loads(raw)
                except UnicodeDecodeError as exc:
                    raise self._err(lineno, f"line is not valid UTF-8 ({exc.reason})") from None
                except json.JSONDecodeError as exc:
                    raise self._err(
                        lineno, f"line is not valid JSON: {exc.msg} at column {exc.colno}"
                    ) from None
                if not isinstance(obj, dict):
                    raise self._err(
                        lineno, f"each line must be a JSON object, got {_json_kind(obj)}"
                    )
                n += 1
                yield Row(n, obj)

    def _csv(self) -> Iterator[Row]:
        try:
            fh = self.path.open(encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise self._open_error(exc) from None
        with fh:
            reader = csv.reader(fh)
            try:
                header = next(reader, None)
                if header is None:
                    return
                self._check_header(header)
                n = 0
                for values in reader:
                    if not values:
                        continue  # blank line
                    if len(values) != len(header):
                        raise self._err(
                            reader.line_num,
                            f"row has {len(values)} fields but the header has {len(header)}",
                            hint="quote fields that contain commas or newlines",
                        )
                    n += 1
                    yield Row(n, dict(zip(header, values, strict=True)))
            except UnicodeDecodeError as exc:
                raise self._err(
                    reader.line_num + 1, f"file is not valid UTF-8 ({exc.reason})"
                ) from None
            except csv.Error as exc:
                raise self._err(reader.line_num, f"malformed CSV: {exc}") from None

    def _check_header(self, header: list[str]) -> None:
        seen: set[str] = set()
        for i, name in enumerate(header, start=1):
            if not name.strip():
                raise self._err(1, f"header column {i} has no name")
            if name in seen:
                raise self._err(1, f"header names column {name!r} twice")
            seen.add(name)

    def _json(self) -> Iterator[Row]:
        try:
            text = self.path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise self._err(None, f"file is not valid UTF-8 ({exc.reason})") from None
        except OSError as exc:
            raise self._open_error(exc) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self._err(
                exc.lineno, f"not valid JSON: {exc.msg} at column {exc.colno}"
            ) from None
        if not isinstance(data, list):
            raise self._err(
                None,
                f"a .json dataset must be an array of objects, got {_json_kind(data)}",
                hint="use JSON Lines (.jsonl) for one object per line",
            )
        for i, obj in enumerate(data, start=1):
            if not isinstance(obj, dict):
                raise self._err(None, f"array item {i} must be an object, got {_json_kind(obj)}")
            yield Row(i, obj)

    def _parquet(self) -> Iterator[Row]:
        # pyarrow comes with the spark extra; reading Parquet locally needs nothing else.
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise DatasetError(
                "reading a Parquet dataset needs pyarrow, which is not installed",
                where=self._where or str(self.path),
                hint="pip install 'evalcli[spark]' (or pyarrow), or convert the file to JSONL",
            ) from None
        try:
            pfile = pq.ParquetFile(self.path)
        except (OSError, ValueError) as exc:  # ValueError: pyarrow.ArrowInvalid, not Parquet
            raise DatasetError(f"cannot read Parquet: {exc}", where=str(self.path)) from None
        n = 0
        with pfile:
            for batch in pfile.iter_batches(batch_size=1024):
                for obj in batch.to_pylist():
                    n += 1
                    yield Row(n, obj)


class _Missing:
    """Sentinel for "this path does not exist in the row" (distinct from a JSON null)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


def lookup(obj: Any, path: DataPath) -> Any:
    """Follow a dotted path through dicts and lists (``messages.1.content``); MISSING if absent."""
    cur = obj
    for part in path:
        if isinstance(cur, dict):
            if part in cur:
                cur = cur[part]
                continue
            return MISSING
        if isinstance(cur, list) and part.lstrip("-").isdigit():
            idx = int(part)
            if -len(cur) <= idx < len(cur):
                cur = cur[idx]
                continue
        return MISSING
    return cur


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
