"""Deterministic checks: exact match, contains, regex, length, similarity (JSON in json_checks).

Each check is a small frozen dataclass: constructing it validates the parameters (so a bad
setting, such as a regex that does not compile, is reported when the configuration is
validated, before any row runs), and calling it on a row returns a :class:`CheckResult`:
whether the row passed, a reason that says what did or did not match, and a score (1.0 or
0.0, or the similarity ratio). Instances are immutable, picklable and safe to share between
threads.

Bad row data (a response that is not a string, for example) raises ``ValueError`` with a
message naming the problem; a regex that runs past its time limit raises
:class:`RegexTimeoutError`, a ``ValueError`` of its own kind.

``regex`` and ``rapidfuzz`` are imported on first use, so importing this module is cheap.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from evalcli.metrics._common import SNIPPET, CheckResult, snippet, text_of
from evalcli.metrics._common import verdict as _result
from evalcli.metrics.json_checks import JsonSchema, JsonValid, compile_schema, parse_json

__all__ = [
    "CheckResult",
    "Contains",
    "ExactMatch",
    "JsonSchema",
    "JsonValid",
    "Length",
    "NotContains",
    "Regex",
    "RegexTimeoutError",
    "SimilarityRatio",
    "compile_pattern",
    "compile_schema",
    "parse_json",
]


class RegexTimeoutError(ValueError):
    """A regex ran past its time limit on a row (usually catastrophic backtracking)."""


def _texts(value: object, what: str) -> tuple[str, ...]:
    """One string or a non-empty list of strings, as a tuple."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError(f"{what} must be a string or a non-empty list of strings, got {value!r}")


def _check_flags(obj: object) -> None:
    for name, value in vars(obj).items():
        if name.startswith("ignore_") and not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")


_ARTICLES = frozenset({"a", "an", "the"})


@functools.cache
def _punctuation() -> Any:
    """Unicode punctuation (« » 、 。 ¿) plus ASCII's string.punctuation, which SQuAD's
    answer normalization removes and which includes symbols such as $ and +."""
    import regex  # type: ignore[import-untyped]  # ships no type information

    return regex.compile(r"[\p{P}" + regex.escape(string.punctuation) + "]+")


def _strip_punctuation(text: str) -> str:
    return str(_punctuation().sub("", text))


@dataclass(frozen=True)
class ExactMatch:
    """The response equals the expected text (or one of several), after optional normalization.

    The normalizations are SQuAD's, each behind its own flag and applied in SQuAD's order: case
    (``casefold``), punctuation (deleted, not replaced by spaces), the English articles a/an/the
    as whitespace-separated words in any case (which also collapses whitespace, as SQuAD's
    normalization always does), whitespace (runs collapse to one space, ends trimmed).
    """

    ignore_case: bool = False
    ignore_whitespace: bool = False
    ignore_punctuation: bool = False
    ignore_articles: bool = False

    def __post_init__(self) -> None:
        _check_flags(self)

    def normalize(self, text: str) -> str:
        """``text`` with the enabled normalizations applied."""
        if self.ignore_case:
            text = text.casefold()
        if self.ignore_punctuation:
            text = _strip_punctuation(text)
        if self.ignore_articles:
            text = " ".join(w for w in text.split() if w.casefold() not in _ARTICLES)
        if self.ignore_whitespace:
            text = " ".join(text.split())
        return text

    def __call__(self, response: object, expected: object) -> CheckResult:
        """Compare ``response`` with ``expected`` (a string or a list of accepted strings)."""
        got = self.normalize(text_of(response))
        accepted = _texts(expected, "the expected answer")
        for index, answer in enumerate(accepted):
            if got == self.normalize(answer):
                which = "" if len(accepted) == 1 else f" (accepted answer {index + 1})"
                return _result(True, f"the response equals {snippet(answer)}{which}")
        shown = snippet(accepted[0]) + (
            f" or {len(accepted) - 1} other accepted answer(s)" if len(accepted) > 1 else ""
        )
        normalized = "" if got == response else f" (normalized: {snippet(got)})"
        return _result(False, f"the response {snippet(str(response))}{normalized} is not {shown}")


@dataclass(frozen=True)
class Contains:
    """The response contains the value(s): ``any`` of them (default) or ``all``.

    Args:
        values: A string or a list of strings (none of them empty).
        mode: ``"any"`` or ``"all"``.
        ignore_case: Compare case-insensitively (``casefold``).
    """

    values: str | tuple[str, ...]
    mode: Literal["any", "all"] = "any"
    ignore_case: bool = False
    _needles: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        needles = _texts(self.values, "values")
        if any(not v for v in needles):
            raise ValueError("values must not contain an empty string (it is in every text)")
        if self.mode not in ("any", "all"):
            raise ValueError(f"mode must be 'any' or 'all', got {self.mode!r}")
        _check_flags(self)
        object.__setattr__(self, "_needles", needles)

    def _found(self, response: object) -> tuple[list[str], list[str]]:
        text = text_of(response)
        if self.ignore_case:
            text = text.casefold()
        found: list[str] = []
        missing: list[str] = []
        for value in self._needles:
            needle = value.casefold() if self.ignore_case else value
            (found if needle in text else missing).append(value)
        return found, missing

    def __call__(self, response: object) -> CheckResult:
        """Check one response."""
        found, missing = self._found(response)
        if self.mode == "all":
            if missing:
                return _result(False, f"missing {_listed(missing)}")
            return _result(True, f"contains {_listed(found)}")
        if found:
            return _result(True, f"contains {_listed(found)}")
        return _result(False, f"contains none of {_listed(missing)}")


@dataclass(frozen=True)
class NotContains(Contains):
    """The opposite of :class:`Contains` with the same mode: with ``any`` (default) the
    response must contain none of the values; with ``all`` it must not contain all of them."""

    def __call__(self, response: object) -> CheckResult:
        """Check one response."""
        found, missing = self._found(response)
        if self.mode == "all":
            if missing:
                return _result(True, f"does not contain {_listed(missing)}")
            return _result(False, f"contains all of {_listed(found)}")
        if found:
            return _result(False, f"contains {_listed(found)}")
        return _result(True, f"contains none of {_listed(missing)}")


def _listed(values: list[str]) -> str:
    shown = ", ".join(snippet(v, 40) for v in values[:5])
    return shown + (f" and {len(values) - 5} more" if len(values) > 5 else "")


_FLAG_NAMES = {
    "ignorecase": "IGNORECASE",
    "i": "IGNORECASE",
    "multiline": "MULTILINE",
    "m": "MULTILINE",
    "dotall": "DOTALL",
    "s": "DOTALL",
    "verbose": "VERBOSE",
    "x": "VERBOSE",
    "ascii": "ASCII",
    "a": "ASCII",
}


def compile_pattern(pattern: object, flags: Sequence[str] = ()) -> Any:
    """Compile ``pattern`` with the ``regex`` package.

    Args:
        pattern: The regular expression (Python / ``regex`` syntax).
        flags: Names among ignorecase (i), multiline (m), dotall (s), verbose (x), ascii (a).

    Returns:
        The compiled ``regex.Pattern``.

    Raises:
        ValueError: the pattern is not a string, a flag is unknown, or the pattern does not
            compile (the message has the position of the error).
    """
    import regex

    if not isinstance(pattern, str):
        raise ValueError(f"pattern must be a string, got {type(pattern).__name__}")
    if isinstance(flags, str):
        flags = [flags]
    value = 0
    for name in flags:
        key = _FLAG_NAMES.get(str(name).lower())
        if key is None:
            known = "ignorecase, multiline, dotall, verbose, ascii"
            raise ValueError(f"unknown regex flag {name!r}; known: {known}")
        value |= getattr(regex, key)
    try:
        return regex.compile(pattern, value)
    except regex.error as exc:
        raise ValueError(f"pattern {pattern!r} does not compile: {exc}") from exc


def _shown(pattern: str) -> str:
    """A pattern as written between slashes (repr would double every backslash)."""
    return f"/{pattern}/" if len(pattern) <= SNIPPET else f"/{pattern[:SNIPPET]}.../"


@dataclass(frozen=True)
class Regex:
    """The response matches a regular expression (``search`` anywhere, or ``full_match``).

    Args:
        pattern: The expression; compiled on construction (a bad one raises ValueError).
        flags: See :func:`compile_pattern`.
        full_match: The whole response must match, not just a part of it.
        must_match: False turns the check around: it passes when nothing matches.
        timeout_s: Time limit per row; a pattern that backtracks past it raises
            :class:`RegexTimeoutError` instead of holding a worker for minutes.
    """

    pattern: str
    flags: tuple[str, ...] = ()
    full_match: bool = False
    must_match: bool = True
    timeout_s: float = 1.0
    _compiled: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("full_match", "must_match"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        timeout = self.timeout_s
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise ValueError(f"timeout_s must be a number of seconds > 0, got {timeout!r}")
        object.__setattr__(self, "_compiled", compile_pattern(self.pattern, self.flags))

    def __call__(self, response: object) -> CheckResult:
        """Check one response."""
        text = text_of(response)
        run = self._compiled.fullmatch if self.full_match else self._compiled.search
        try:
            # concurrent=True releases the GIL while matching, so judge threads keep running.
            match = run(text, timeout=self.timeout_s, concurrent=True)
        except TimeoutError as exc:
            raise RegexTimeoutError(
                f"pattern {_shown(self.pattern)} took longer than {self.timeout_s} s on a "
                f"{len(text)}-character response (catastrophic backtracking?); simplify the "
                "pattern or raise timeout_s"
            ) from exc
        how = "fully match" if self.full_match else "match"
        if match is None:
            reason = f"the response {snippet(text)} does not {how} {_shown(self.pattern)}"
            return _result(not self.must_match, reason)
        reason = (
            f"{_shown(self.pattern)} matched {snippet(match.group(0))} "
            f"at {match.start()}-{match.end()}"
        )
        return _result(self.must_match, reason)


@dataclass(frozen=True)
class Length:
    """The response's length is within bounds, in characters (code points) or words
    (whitespace-separated). At least one of ``min`` and ``max`` is needed; both inclusive."""

    unit: Literal["chars", "words"] = "chars"
    min: int | None = None
    max: int | None = None

    def __post_init__(self) -> None:
        if self.unit not in ("chars", "words"):
            raise ValueError(f"unit must be 'chars' or 'words', got {self.unit!r}")
        for name in ("min", "max"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        if self.min is None and self.max is None:
            raise ValueError("set min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")

    def __call__(self, response: object) -> CheckResult:
        """Check one response."""
        text = text_of(response)
        size = len(text) if self.unit == "chars" else len(text.split())
        if self.min is not None and size < self.min:
            return _result(False, f"{size} {self.unit}, below the minimum of {self.min}")
        if self.max is not None and size > self.max:
            return _result(False, f"{size} {self.unit}, above the maximum of {self.max}")
        return _result(True, f"{size} {self.unit}, within bounds")


@dataclass(frozen=True)
class SimilarityRatio:
    """Normalized Levenshtein similarity (``1 - distance / longer length``, via rapidfuzz)
    between the response and the expected text (the best of several); passes at or above
    ``threshold``. Two empty texts are identical (1.0)."""

    threshold: float = 0.8
    ignore_case: bool = False

    def __post_init__(self) -> None:
        value = self.threshold
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ValueError(f"threshold must be a number from 0 to 1, got {value!r}")
        _check_flags(self)

    def __call__(self, response: object, expected: object) -> CheckResult:
        """Compare ``response`` with ``expected`` (a string or a list of strings)."""
        from rapidfuzz.distance import Levenshtein

        text = text_of(response)
        candidates = _texts(expected, "the expected text")
        if self.ignore_case:
            text = text.casefold()
        best, best_text = -1.0, candidates[0]
        for candidate in candidates:
            ratio = float(
                Levenshtein.normalized_similarity(
                    text, candidate.casefold() if self.ignore_case else candidate
                )
            )
            if ratio > best:
                best, best_text = ratio, candidate
        passed = best >= self.threshold
        relation = "at or above" if passed else "below"
        reason = (
            f"similarity {best:.3f} to {snippet(best_text)} is {relation} the threshold "
            f"{self.threshold}"
        )
        return CheckResult(passed, reason, best)
