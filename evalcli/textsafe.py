"""Lone surrogates: valid in JSON (``"\\ud800"``) and in Python strings, not encodable as UTF-8.

Datasets may carry them (a string cut in the middle of an emoji by an exporter). evalcli
keeps such values exactly wherever the output format can carry them, and replaces them only
where it cannot:

* JSON output (results.json, request bodies of HTTP targets, cache keys): ``\\uXXXX``
  escapes, which read back to the very same string;
* CSV output and chat messages sent to a model: U+FFFD, the replacement character (CSV has
  no escapes, and a model API expects UTF-8 text).
"""

from __future__ import annotations

import json
import re
from typing import Any

LONE_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def json_text(value: Any, **kwargs: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, **kwargs)`` with lone surrogates escaped."""
    text = json.dumps(value, ensure_ascii=False, **kwargs)
    if not has_surrogate(text):
        return text
    return LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def has_surrogate(text: str) -> bool:
    """Whether ``text`` holds a surrogate code point (what :data:`LONE_SURROGATE` matches).

    Asked of every judge call's messages and cache key and of every result row, so it avoids
    the regex scan: ASCII text has none (a flag of the string), and other text has one
    exactly when it cannot be encoded as UTF-8 (C speed, several times the regex's).
    """
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def replace_surrogates(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings (nested too) replaced by U+FFFD."""
    if isinstance(value, str):
        return LONE_SURROGATE.sub(REPLACEMENT, value) if has_surrogate(value) else value
    if isinstance(value, list):
        return [replace_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {k: replace_surrogates(v) for k, v in value.items()}
    return value


#: Control characters other than tab, LF and CR (an ESC that would recolour a terminal, a
#: NUL), and lone surrogates: text meant for a log line or a Markdown page shows them as
#: U+FFFD.
UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def replace_unprintable(text: str) -> str:
    """``text`` with every :data:`UNPRINTABLE` character replaced by U+FFFD."""
    return UNPRINTABLE.sub(REPLACEMENT, text)
