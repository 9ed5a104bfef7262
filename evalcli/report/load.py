"""Reading ``results.json`` without holding its rows: the header, then one row at a time.

``evalcli run`` writes the header keys first and ``rows`` last, one row per line (see
:mod:`evalcli.reporters.files`), but any valid JSON layout is read: the top-level object is
parsed key by key with :meth:`json.JSONDecoder.raw_decode`, and the ``rows`` array element by
element, from a buffer refilled in growing chunks. When ``rows`` comes before the header keys
the report needs (a file written by another tool), the header is read in a first pass that
skips the rows, and the rows in a second.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, NoReturn

from evalcli.errors import UsageError
from evalcli.results import SCHEMA_VERSION

RESULTS_NAME = "results.json"
_CHUNK = 1 << 20
_WHITESPACE = " \t\r\n"
#: Header keys the report cannot do without.
_NEEDED = ("run", "metric_info", "metrics")


class ReportError(UsageError):
    """A results file or a ``report`` option cannot be used (exit 2)."""


def _reject_constant(token: str) -> Any:
    raise ValueError(f"not strict JSON: contains {token}")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


class _Scanner:
    """A JSON value reader over a text stream, with a buffer that grows only as needed."""

    def __init__(self, fh: IO[str], where: str) -> None:
        self.fh = fh
        self.where = where
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.line = 1  # line of buf[0], for error messages

    def _fill(self) -> None:
        # Read at least as much as is buffered, so that a long value is re-parsed only a
        # logarithmic number of times.
        self.line += self.buf.count("\n", 0, self.pos)
        chunk = self.fh.read(max(_CHUNK, len(self.buf) - self.pos))
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        self.eof = not chunk

    def peek(self) -> str:
        """The next non-blank character ('' at the end of the file)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _WHITESPACE:
                self.pos += 1
            if self.pos < len(self.buf) or self.eof:
                return self.buf[self.pos] if self.pos < len(self.buf) else ""
            self._fill()

    def expect(self, char: str) -> None:
        """Consume ``char`` (after blanks), or fail."""
        if self.peek() != char:
            self.fail(f"expected {char!r}")
        self.pos += 1

    def value(self) -> Any:
        """Decode the next JSON value."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if self.eof:
                    self.fail(exc.msg, exc.pos)
                self._fill()
                continue
            except ValueError as exc:  # NaN / Infinity
                raise ReportError(str(exc), where=self.where) from None
            if end == len(self.buf) and not self.eof:
                self._fill()  # a number cut at the buffer's end would parse short
                continue
            self.pos = end
            return value

    def fail(self, message: str, pos: int | None = None) -> NoReturn:
        at = self.pos if pos is None else pos
        line = self.line + self.buf.count("\n", 0, at)
        raise ReportError(f"not valid JSON ({message})", where=f"{self.where}:{line}")


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` when it is an object, else an empty one (a part of the header may be odd)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` when it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def results_file(path: Path) -> Path:
    """``path`` itself, or the ``results.json`` inside a results directory.

    Raises:
        ReportError: there is no such file.
    """
    file = path / RESULTS_NAME if path.is_dir() else path
    if not file.is_file():
        hint = None if path.exists() else "pass a results directory written by `evalcli run`"
        raise ReportError("no such results file", where=str(file), hint=hint)
    return file


class ResultsStream:
    """One ``results.json``: :attr:`header` (every key but ``rows``) and :meth:`rows`.

    The constructor reads the header up to the rows (past them only when needed keys come
    after the rows); each call of :meth:`rows` reads the file again, one row at a time. No
    file stays open between calls.

    Raises:
        ReportError: the file is missing, not UTF-8 JSON, not an evalcli results file, or
            written by a newer results schema.
    """

    def __init__(self, path: Path) -> None:
        self.path = results_file(path)
        self.where = str(self.path)
        self.header: dict[str, Any] = {}
        with self._open() as scanner:
            if scanner.peek() != "{":
                raise ReportError(
                    "not an evalcli results file (expected a JSON object)", where=self.where
                )
            scanner.pos += 1
            at_rows = self._keys(scanner, self.header, stop_at_rows=True)
            if at_rows:
                self.header["rows"] = []  # the file has a rows array (not read here)
                if not all(k in self.header for k in _NEEDED):
                    # Another tool's layout: the rest of the header follows the rows.
                    self._skip_rows(scanner)
                    self._keys(scanner, self.header, stop_at_rows=False, after_value=True)
        self._check_header()

    def rows(self) -> Iterator[dict[str, Any]]:
        """The rows, one at a time, in file order; keys after the rows join the header.

        A Spark run's rows are read from the Parquet directory ``rows_parquet`` names."""
        if "rows_parquet" in self.header:
            from evalcli.parquet_rows import parquet_rows

            yield from parquet_rows(self.path, self.header["rows_parquet"], ReportError)
            return
        with self._open() as scanner:
            scanner.expect("{")
            if not self._keys(scanner, {}, stop_at_rows=True):
                return
            index = 0
            if scanner.peek() == "]":
                scanner.pos += 1
            else:
                while True:
                    row = scanner.value()
                    index += 1
                    if not isinstance(row, dict):
                        raise ReportError(
                            f"invalid results file: row {index} is not an object",
                            where=self.where,
                        )
                    yield row
                    if self._separator(scanner, "]"):
                        break
            rest: dict[str, Any] = {}
            self._keys(scanner, rest, stop_at_rows=False, after_value=True)
            for key, value in rest.items():
                self.header.setdefault(key, value)

    @contextmanager
    def _open(self) -> Iterator[_Scanner]:
        try:
            with self.path.open(encoding="utf-8") as fh:
                yield _Scanner(fh, self.where)
        except OSError as exc:
            raise ReportError(
                f"cannot read the file ({exc.strerror or exc})", where=self.where
            ) from None
        except UnicodeDecodeError:
            raise ReportError("the file is not UTF-8 text", where=self.where) from None

    def _keys(
        self,
        scanner: _Scanner,
        into: dict[str, Any],
        *,
        stop_at_rows: bool,
        after_value: bool = False,
    ) -> bool:
        """Read ``key: value`` pairs into ``into`` up to the end of the object.

        Returns True when it stopped just inside the ``rows`` array (``stop_at_rows``);
        rows met otherwise are skipped.
        """
        if after_value:
            if self._separator(scanner, "}"):
                return False
        elif scanner.peek() == "}":
            scanner.pos += 1
            return False
        while True:
            key = scanner.value()
            if not isinstance(key, str):
                scanner.fail("expected a key")
            scanner.expect(":")
            if key == "rows" and scanner.peek() == "[":
                scanner.pos += 1
                if stop_at_rows:
                    return True
                into["rows"] = []  # present, not kept
                self._skip_rows(scanner)
            else:
                into[key] = scanner.value()
            if self._separator(scanner, "}"):
                return False

    def _skip_rows(self, scanner: _Scanner) -> None:
        if scanner.peek() == "]":
            scanner.pos += 1
            return
        while True:
            scanner.value()
            if self._separator(scanner, "]"):
                return

    @staticmethod
    def _separator(scanner: _Scanner, close: str) -> bool:
        """Consume ``,`` (False) or ``close`` (True)."""
        char = scanner.peek()
        if char == close:
            scanner.pos += 1
            return True
        if char != ",":
            scanner.fail(f"expected ',' or {close!r}")
        scanner.pos += 1
        return False

    def _check_header(self) -> None:
        version = self.header.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ReportError("not an evalcli results file (no schema_version)", where=self.where)
        if version > SCHEMA_VERSION:
            raise ReportError(
                f"written with results schema {version}; this evalcli reads up to {SCHEMA_VERSION}",
                where=self.where,
                hint="upgrade evalcli",
            )
        for key in _NEEDED:
            if not isinstance(self.header.get(key), dict):
                raise ReportError(
                    f"invalid results file: `{key}` is missing or malformed", where=self.where
                )
        if "rows_parquet" in self.header:
            return  # a Spark run: the rows are in Parquet (see rows())
        if not isinstance(self.header.pop("rows", None), list):
            raise ReportError(
                "the results file holds no rows; the report needs the per-row outputs",
                where=self.where,
            )
