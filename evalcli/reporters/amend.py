"""Add a warning to a results.json that is already written.

Something that happens after the result files are published (logging the run to MLflow)
can still fail, and its warning belongs in ``warnings`` like any other. results.json may
hold millions of rows, so it is not parsed whole: only its header (every key before
``rows``) is decoded, the warning is spliced into the ``warnings`` list, and the rest of the
file is copied byte for byte. The new file replaces the old one atomically.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from evalcli.textsafe import json_text

_SPACE = re.compile(r"\s*")
_DECODER = json.JSONDecoder()
#: First read of the header; doubled until the header fits (errors can make it long).
_FIRST_READ = 1 << 16


class _IncompleteError(Exception):
    """The header goes on past the bytes read so far."""


def append_warning(path: Path, warning: str) -> None:
    """Append ``warning`` to the ``warnings`` list of the results.json at ``path``.

    Raises:
        OSError: the file cannot be read or replaced.
        ValueError: the file is not a results.json (no JSON object).
    """
    with path.open("rb") as fh:
        size = _FIRST_READ
        while True:
            fh.seek(0)
            head = fh.read(size)
            whole = len(head) < size
            # A multi-byte character cut at the end of the read is dropped (ignore), which
            # leaves every earlier character, and so every offset, where it is.
            text = head.decode("utf-8", errors="ignore")
            try:
                found = _warnings_list(text)
                break
            except (_IncompleteError, json.JSONDecodeError):
                if whole:
                    raise ValueError(f"{path} is not a results.json file") from None
                size *= 4
        if found is None:  # no "warnings" key before the rows: small file, rewrite it whole
            fh.seek(0)
            data = json.loads(fh.read().decode("utf-8"))
            data.setdefault("warnings", []).append(warning)
            _replace(path, json_text(data).encode("utf-8") + b"\n", None)
            return
        close_at, empty = found
        offset = len(text[:close_at].encode("utf-8"))
        insert = ("" if empty else ", ") + json_text(warning)
        fh.seek(offset)
        _replace(path, head[:offset] + insert.encode("utf-8"), fh)


def _warnings_list(text: str) -> tuple[int, bool] | None:
    """(index of the ``]`` closing the top-level ``warnings`` list, whether it is empty), or
    None when the object has no such key before ``rows``.

    Raises:
        _IncompleteError: ``text`` ends before the answer is known.
        json.JSONDecodeError: ``text`` is not the start of a JSON object.
    """
    i = _skip(text, 0)
    if text[i] != "{":
        raise json.JSONDecodeError("expected an object", text, i)
    i += 1
    while True:
        i = _skip(text, i)
        if text[i] == "}":
            return None
        key, i = _decode(text, i)
        i = _skip(text, i)
        if text[i] != ":":
            raise json.JSONDecodeError("expected ':'", text, i)
        i = _skip(text, i + 1)
        if key == "rows":
            return None
        value, i = _decode(text, i)
        if key == "warnings" and isinstance(value, list):
            return i - 1, not value
        i = _skip(text, i)
        if text[i] == ",":
            i += 1


def _skip(text: str, i: int) -> int:
    """Index of the next non-space character (there must be one)."""
    i = _SPACE.match(text, i).end()  # type: ignore[union-attr]  # \s* always matches
    if i >= len(text):
        raise _IncompleteError
    return i


def _decode(text: str, i: int) -> tuple[Any, int]:
    value, end = _DECODER.raw_decode(text, i)
    if end >= len(text):  # a number may go on in the bytes not read yet
        raise _IncompleteError
    return value, end


def _replace(path: Path, head: bytes, rest: Any) -> None:
    """Write ``head`` and then what is left of the open file ``rest``; swap it in."""
    tmp = path.with_name(f".{path.name}.amend")
    try:
        with tmp.open("wb") as out:
            out.write(head)
            if rest is not None:
                shutil.copyfileobj(rest, out)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
