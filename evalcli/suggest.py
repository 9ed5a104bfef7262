"""The "did you mean" hint shared by every message about a misspelt name."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

#: How similar (difflib ratio) a known name must be to be suggested.
CUTOFF = 0.6


def did_you_mean(word: str, options: Iterable[str]) -> str | None:
    """``did you mean 'a' or 'b'?`` for the (at most three) closest options, or None."""
    close = difflib.get_close_matches(word, sorted(set(options)), n=3, cutoff=CUTOFF)
    if not close:
        return None
    return "did you mean " + " or ".join(repr(c) for c in close) + "?"
