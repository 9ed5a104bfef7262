"""Turning a judge model's answer text into a score or a label.

Judges are asked for one JSON object (``{"score": 4, "reason": "..."}`` or
``{"label": true, "reason": "...", "details": {...}}``) but do not always comply: the object
may come inside a Markdown code fence or wrapped in prose. :func:`extract_json_object`
finds it; :func:`parse_score`, :func:`parse_number` (a score without a declared range) and
:func:`parse_label` validate it. Anything that cannot be read with confidence becomes a
:class:`ParseFailure` that keeps the raw text, so the row is reported as unscored instead of
guessed.

JSON is parsed strictly: no trailing commas, no ``NaN``/``Infinity``, no duplicate keys
(``{"score": 1, "score": 5}`` is ambiguous, so that object is ignored). A leading byte
order mark and surrounding whitespace are tolerated.

A missing or null ``reason`` is returned as the empty string, so the reason is always
text; ``explanation`` is accepted when ``reason`` is absent (some Prompty rubrics use it).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

ParseFailureKind = Literal["judge-output-unparseable", "judge-score-out-of-range"]
UNPARSEABLE: Final = "judge-output-unparseable"
OUT_OF_RANGE: Final = "judge-score-out-of-range"

_INTEGRAL_TEXT = re.compile(r"^[+-]?\d+(?:\.0*)?$")
_DECIMAL_TEXT = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
# Where a JSON object can begin: "{" then a key or "}". Skips prose braces cheaply.
_OBJECT_START = re.compile(r"\{\s*[\"}]")
# Trying every "{" is quadratic on hostile text (deep unclosed nesting); stop trying once
# failed attempts have cost this many characters. Normal answers spend nothing here.
_FAILED_SCAN_BUDGET = 4_000_000
_REASON_KEYS = ("reason", "explanation")


@dataclass(frozen=True)
class ScoreAnswer:
    """A valid score answer.

    Attributes:
        score: The integer score, within the requested range.
        reason: The judge's explanation ("" when it gave none).
        data: The whole JSON object, for extra keys a custom rubric may ask for.
    """

    score: int
    reason: str
    data: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class NumberAnswer:
    """A valid answer to a rubric whose score has no declared range.

    Attributes:
        score: The score: an ``int`` when it is integral (always, for integer scores), else
            a finite ``float``.
        reason: The judge's explanation ("" when it gave none).
        data: The whole JSON object.
    """

    score: int | float
    reason: str
    data: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class LabelAnswer:
    """A valid label answer.

    Attributes:
        label: The boolean verdict.
        reason: The judge's explanation ("" when it gave none).
        details: The ``details`` object ({} when absent); ``"true"``/``"false"`` strings
            in it are turned into booleans.
        data: The whole JSON object.
    """

    label: bool
    reason: str
    details: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class ParseFailure:
    """A judge answer that yields no result.

    Attributes:
        kind: ``judge-output-unparseable`` or ``judge-score-out-of-range``.
        message: Human explanation.
        raw: The judge's answer text, unchanged.
    """

    kind: ParseFailureKind
    message: str
    raw: str


class _RejectedJSONError(ValueError):
    """Raised inside the decoder for constructs strict JSON does not allow."""


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _RejectedJSONError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise _RejectedJSONError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant)


def extract_json_object(text: str, expected_keys: Sequence[str] = ()) -> dict[str, Any] | None:
    """Find the JSON object in a judge's answer.

    The whole text is tried first. If the whole text is JSON but not an object (an array,
    a number...), the answer is rejected. Otherwise the JSON decoder is started at each
    ``{`` that could begin an object (followed by ``"`` or ``}``), left to right; every
    object it completes is a candidate and scanning resumes after it. This covers fenced
    blocks and prose around the object; braces inside JSON strings are handled by the
    decoder itself, and objects nested in a candidate are not separate candidates. On
    hostile text (thousands of unclosed nested objects) scanning stops after a fixed amount
    of failed work, so the cost stays bounded.

    Args:
        text: The answer text.
        expected_keys: Keys the wanted object has. Among candidates, the last one with all
            of them wins; when none has them all, the last candidate is returned.

    Returns:
        The object, or ``None`` when the text holds no JSON object.
    """
    stripped = text.lstrip("\ufeff").strip()
    if not stripped:
        return None
    try:
        whole: object = _DECODER.decode(stripped)
    except (ValueError, RecursionError):
        pass
    else:
        return whole if isinstance(whole, dict) else None

    candidates: list[dict[str, Any]] = []
    spent = 0  # characters the decoder went through on failed attempts
    match = _OBJECT_START.search(stripped)
    while match is not None and spent <= _FAILED_SCAN_BUDGET:
        start = match.start()
        try:
            value, end = _DECODER.raw_decode(stripped, start)
        except json.JSONDecodeError as exc:
            spent += exc.pos  # the error itself rescans the text up to pos
            match = _OBJECT_START.search(stripped, start + 1)
            continue
        except (ValueError, RecursionError):
            spent += len(stripped)
            match = _OBJECT_START.search(stripped, start + 1)
            continue
        if isinstance(value, dict):  # always true from a "{", kept for the type checker
            candidates.append(value)
        match = _OBJECT_START.search(stripped, end)
    if not candidates:
        return None
    for candidate in candidates[::-1]:
        if all(key in candidate for key in expected_keys):
            return candidate
    return candidates[-1]


def _no_object(text: str) -> ParseFailure:
    if not text.strip():
        return ParseFailure(UNPARSEABLE, "the judge answer is empty", text)
    return ParseFailure(UNPARSEABLE, "the judge answer contains no JSON object", text)


def _reason(data: Mapping[str, Any]) -> str:
    for key in _REASON_KEYS:
        if key in data:
            value = data[key]
            if value is None:
                return ""
            if isinstance(value, str):
                return value.strip()
            return json.dumps(value, ensure_ascii=False)
    return ""


def _as_integer(value: object) -> int | str:
    """The integer a score value stands for, or why it stands for none."""
    if isinstance(value, bool):
        return f"score must be an integer, not a boolean ({json.dumps(value)})"
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        return f"score must be an integer, not {value!r}"
    if isinstance(value, str):
        text = value.strip()
        if _INTEGRAL_TEXT.match(text):
            return int(text.split(".", 1)[0])
        return f"score must be an integer, not the text {value!r}"
    return f"score must be an integer, not {json.dumps(value)}"


def parse_score(text: str, *, lo: int, hi: int) -> ScoreAnswer | ParseFailure:
    """Read ``{"score": <int>, "reason": "..."}`` from a judge answer.

    The score may be a JSON integer, an integral float (``4.0``) or a string holding an
    integer (``"4"``, ``" 4.0 "``). Booleans, fractions and anything else are unparseable.

    Args:
        text: The judge's answer.
        lo: Lowest valid score.
        hi: Highest valid score.

    Returns:
        A :class:`ScoreAnswer`, or a :class:`ParseFailure` of kind
        ``judge-output-unparseable`` (no usable object or score) or
        ``judge-score-out-of-range``.

    Raises:
        ValueError: If ``lo > hi``.
    """
    if lo > hi:
        raise ValueError(f"empty score range [{lo}, {hi}]")
    data = extract_json_object(text, ("score",))
    if data is None:
        return _no_object(text)
    if "score" not in data:
        return ParseFailure(UNPARSEABLE, "the judge answer has no 'score' key", text)
    score = _as_integer(data["score"])
    if isinstance(score, str):
        return ParseFailure(UNPARSEABLE, score, text)
    if not lo <= score <= hi:
        return ParseFailure(
            OUT_OF_RANGE, f"judge score {score} is outside the allowed range {lo}..{hi}", text
        )
    return ScoreAnswer(score=score, reason=_reason(data), data=data)


def _as_number(value: object) -> int | float | str:
    """The finite number a score value stands for, or why it stands for none."""
    if isinstance(value, bool):
        return f"score must be a number, not a boolean ({json.dumps(value)})"
    if isinstance(value, int):
        return value
    number: float
    if isinstance(value, float):
        number = value
    elif isinstance(value, str) and _DECIMAL_TEXT.match(value.strip()):
        number = float(value.strip())
    elif isinstance(value, str):
        return f"score must be a number, not the text {value!r}"
    else:
        return f"score must be a number, not {json.dumps(value)}"
    if not math.isfinite(number):
        return f"score must be a finite number, not {value!r}"
    return int(number) if number.is_integer() else number


def parse_number(text: str, *, integer: bool) -> NumberAnswer | ParseFailure:
    """Read ``{"score": <number>, "reason": "..."}`` when the score has no declared range.

    Nothing is range-checked. With ``integer`` the score follows :func:`parse_score`'s rules
    (integral values only); otherwise any finite number, or a string holding one, is read.
    ``explanation`` stands in for a missing ``reason``, as everywhere.

    Args:
        text: The judge's answer.
        integer: Whether the rubric declares an integer score.

    Returns:
        A :class:`NumberAnswer`, or a :class:`ParseFailure` of kind
        ``judge-output-unparseable``.
    """
    data = extract_json_object(text, ("score",))
    if data is None:
        return _no_object(text)
    if "score" not in data:
        return ParseFailure(UNPARSEABLE, "the judge answer has no 'score' key", text)
    score = _as_integer(data["score"]) if integer else _as_number(data["score"])
    if isinstance(score, str):
        return ParseFailure(UNPARSEABLE, score, text)
    return NumberAnswer(score=score, reason=_reason(data), data=data)


def _as_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    return None


def parse_label(text: str, *, required_details: Sequence[str] = ()) -> LabelAnswer | ParseFailure:
    """Read ``{"label": true|false, "reason": "...", "details": {...}}`` from a judge answer.

    ``label`` may be a JSON boolean or the string ``"true"``/``"false"`` in any case;
    numbers (``0``/``1``) and other values are unparseable. ``details``, when present, must
    be an object; boolean-like strings inside it become booleans.

    Args:
        text: The judge's answer.
        required_details: Detail keys that must be present with a boolean value (e.g.
            ``manipulated_content`` for indirect attacks).

    Returns:
        A :class:`LabelAnswer`, or a :class:`ParseFailure` of kind
        ``judge-output-unparseable``.
    """
    data = extract_json_object(text, ("label",))
    if data is None:
        return _no_object(text)
    if "label" not in data:
        return ParseFailure(UNPARSEABLE, "the judge answer has no 'label' key", text)
    label = _as_bool(data["label"])
    if label is None:
        return ParseFailure(
            UNPARSEABLE, f"label must be true or false, not {json.dumps(data['label'])}", text
        )
    raw_details = data.get("details")
    if raw_details is None:
        raw_details = {}
    if not isinstance(raw_details, dict):
        return ParseFailure(UNPARSEABLE, "'details' must be a JSON object", text)
    details: dict[str, Any] = {}
    for key, value in raw_details.items():
        as_bool = _as_bool(value)
        details[key] = value if as_bool is None else as_bool
    for key in required_details:
        if not isinstance(details.get(key), bool):
            return ParseFailure(UNPARSEABLE, f"details.{key} must be true or false", text)
    return LabelAnswer(label=label, reason=_reason(data), details=details, data=data)
