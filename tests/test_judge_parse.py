"""Judge answer parsing: JSON extraction, scores, labels."""

from __future__ import annotations

import time

import pytest

from evalcli.judge.parse import (
    OUT_OF_RANGE,
    UNPARSEABLE,
    LabelAnswer,
    NumberAnswer,
    ParseFailure,
    ScoreAnswer,
    extract_json_object,
    parse_label,
    parse_number,
    parse_score,
)

# --- extract_json_object ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"score": 4}', {"score": 4}),
        ('  \n{"score": 4}\n ', {"score": 4}),
        ('\ufeff{"score": 4}', {"score": 4}),
        ('```json\n{"score": 4, "reason": "ok"}\n```', {"score": 4, "reason": "ok"}),
        ('```\n{"score": 4}\n```', {"score": 4}),
        ('Here is my verdict:\n{"score": 2}\nHope that helps.', {"score": 2}),
        (
            r'{"reason": "uses {braces} and \"quotes\" }", "score": 3}',
            {"reason": 'uses {braces} and "quotes" }', "score": 3},
        ),
        ('{"score": 1, "details": {"a": {"b": 1}}}', {"score": 1, "details": {"a": {"b": 1}}}),
        ("{}", {}),
    ],
)
def test_extract_accepts_objects(text: str, expected: dict[str, object]) -> None:
    assert extract_json_object(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "[1, 2]",
        '[{"score": 4}]',
        "4",
        '"score"',
        "null",
        "true",
        "no json here",
        "{not json}",
        '{"score": 4,}',  # trailing comma: strict JSON only
        "{'score': 4}",  # single quotes are not JSON
        '{"score": NaN}',
        '{"score": Infinity}',
        '{"score": 4',  # truncated answer
    ],
)
def test_extract_rejects_non_objects(text: str) -> None:
    assert extract_json_object(text) is None


def test_extract_prefers_last_object_with_expected_keys() -> None:
    text = 'Example: {"score": 1}. Final: {"score": 5, "reason": "r"} {"note": "x"}'
    assert extract_json_object(text, ("score",)) == {"score": 5, "reason": "r"}
    # without expected keys the last object wins
    assert extract_json_object(text) == {"note": "x"}
    # when no object has the keys, the last one is returned for the caller to reject
    assert extract_json_object('{"a": 1} {"b": 2}', ("score",)) == {"b": 2}


def test_extract_nested_objects_are_not_candidates() -> None:
    text = 'Answer: {"label": false, "details": {"intrusion": true}} end'
    assert extract_json_object(text, ("intrusion",)) == {
        "label": False,
        "details": {"intrusion": True},
    }


def test_extract_ignores_object_with_duplicate_keys() -> None:
    assert extract_json_object('{"score": 1, "score": 5}') is None
    assert extract_json_object('{"score": 1, "score": 5} then {"score": 2}') == {"score": 2}


def test_extract_skips_broken_brace_before_object() -> None:
    text = 'I think {maybe} the answer is {"score": 4, "reason": "a } b"}'
    assert extract_json_object(text, ("score",)) == {"score": 4, "reason": "a } b"}


@pytest.mark.parametrize(
    "text",
    ['{"a":' * 4000, '{"' * 10000, "{" * 50000, "[" * 200000, '{"a":' * 100000],
    ids=["unclosed-nesting", "open-strings", "braces", "deep-array", "deep-object"],
)
def test_extract_hostile_text_is_rejected_quickly(text: str) -> None:
    started = time.perf_counter()
    assert extract_json_object(text, ("score",)) is None
    assert time.perf_counter() - started < 2.0  # quadratic scanning would take far longer


# --- parse_score --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "score", "reason"),
    [
        ('{"score": 4, "reason": "Clear and direct."}', 4, "Clear and direct."),
        ('```json\n{"score": 5, "reason": "ok"}\n```', 5, "ok"),
        ('Sure.\n{"score": 2, "reason": "Off topic"}\nThanks', 2, "Off topic"),
        ('{"reason": "mentions {x} and }{", "score": 3}', 3, "mentions {x} and }{"),
        ('{"score": 1}', 1, ""),
        ('{"score": 5, "reason": null}', 5, ""),
        ('{"score": 3, "explanation": "from a Prompty rubric"}', 3, "from a Prompty rubric"),
        ('{"score": 3, "reason": ["a", "b"]}', 3, '["a", "b"]'),
        ('{"score": 4.0, "reason": "r"}', 4, "r"),
        ('{"score": "4", "reason": "r"}', 4, "r"),
        ('{"score": " 4 ", "reason": "r"}', 4, "r"),
        ('{"score": "4.0"}', 4, ""),
        ('{"score": "+3"}', 3, ""),
        ('{"score": 1} {"score": 4, "reason": "final"}', 4, "final"),
        ('{"score": 4, "reason": "  padded  "}', 4, "padded"),
    ],
)
def test_parse_score_valid(text: str, score: int, reason: str) -> None:
    answer = parse_score(text, lo=1, hi=5)
    assert isinstance(answer, ScoreAnswer)
    assert (answer.score, answer.reason) == (score, reason)
    assert isinstance(answer.score, int)
    assert not isinstance(answer.score, bool)


def test_parse_score_keeps_whole_object() -> None:
    answer = parse_score('{"score": 2, "reason": "r", "confidence": "high"}', lo=1, hi=5)
    assert isinstance(answer, ScoreAnswer)
    assert answer.data["confidence"] == "high"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("The response is good, I'd give it a 4.", "no JSON object"),
        ("[4]", "no JSON object"),
        ("4", "no JSON object"),
        ('{"rating": 4}', "no 'score'"),
        ('{"score": true}', "boolean"),
        ('{"score": false}', "boolean"),
        ('{"score": 4.5}', "4.5"),
        ('{"score": 1e400}', "inf"),
        ('{"score": "four"}', "four"),
        ('{"score": "4/5"}', "4/5"),
        ('{"score": "4.5"}', "4.5"),
        ('{"score": null}', "null"),
        ('{"score": [4]}', "[4]"),
        ('{"score": {"value": 4}}', "value"),
        ('{"score": 4,}', "no JSON object"),
        ('{"score": 1, "score": 5}', "no JSON object"),
        ('{"status": "skipped"}', "no 'score'"),
        ('```json\n{"score": 4, "reason": "cut off', "no JSON object"),
    ],
)
def test_parse_score_unparseable(text: str, fragment: str) -> None:
    answer = parse_score(text, lo=1, hi=5)
    assert isinstance(answer, ParseFailure)
    assert answer.kind == UNPARSEABLE
    assert fragment in answer.message
    assert answer.raw == text


@pytest.mark.parametrize(
    ("text", "lo", "hi"),
    [
        ('{"score": 0}', 1, 5),
        ('{"score": 6}', 1, 5),
        ('{"score": 9, "reason": "great"}', 1, 5),
        ('{"score": -1}', 0, 7),
        ('{"score": 8}', 0, 7),
        ('{"score": "8"}', 0, 7),
        ('{"score": 8.0}', 0, 7),
    ],
)
def test_parse_score_out_of_range(text: str, lo: int, hi: int) -> None:
    answer = parse_score(text, lo=lo, hi=hi)
    assert isinstance(answer, ParseFailure)
    assert answer.kind == OUT_OF_RANGE
    assert f"{lo}..{hi}" in answer.message
    assert answer.raw == text


@pytest.mark.parametrize(("score", "lo", "hi"), [(1, 1, 5), (5, 1, 5), (0, 0, 7), (7, 0, 7)])
def test_parse_score_range_is_inclusive(score: int, lo: int, hi: int) -> None:
    answer = parse_score(f'{{"score": {score}}}', lo=lo, hi=hi)
    assert isinstance(answer, ScoreAnswer)
    assert answer.score == score


def test_parse_score_rejects_empty_range() -> None:
    with pytest.raises(ValueError, match="empty score range"):
        parse_score('{"score": 3}', lo=5, hi=1)


# --- parse_number (scores without a declared range) ---------------------------------------


@pytest.mark.parametrize(
    ("text", "integer", "score"),
    [
        ('{"score": 7, "reason": "r"}', True, 7),
        ('{"score": -2, "reason": "r"}', True, -2),
        ('{"score": 4.0, "reason": "r"}', True, 4),
        ('{"score": "12", "reason": "r"}', True, 12),
        ('{"score": 4.5, "reason": "r"}', False, 4.5),
        ('{"score": 3.0, "reason": "r"}', False, 3),
        ('{"score": " 0.25 ", "reason": "r"}', False, 0.25),
        ('{"score": "1e2", "reason": "r"}', False, 100),
    ],
)
def test_parse_number_takes_any_score_as_it_is(text: str, integer: bool, score: float) -> None:
    parsed = parse_number(text, integer=integer)
    assert isinstance(parsed, NumberAnswer) and (parsed.score, parsed.reason) == (score, "r")
    assert type(parsed.score) is type(score)  # integral values stay ints in the results


def test_parse_number_reads_explanation_as_the_reason() -> None:
    parsed = parse_number('{"score": 1, "explanation": "curt"}', integer=True)
    assert isinstance(parsed, NumberAnswer) and parsed.reason == "curt"


@pytest.mark.parametrize(
    ("text", "integer", "fragment"),
    [
        ('{"score": 3.5}', True, "must be an integer"),
        ('{"score": true}', False, "not a boolean"),
        ('{"score": "two"}', False, "not the text 'two'"),
        ('{"score": 1e999}', False, "finite"),
        ('{"score": [1]}', False, "must be a number"),
        ('{"reason": "no score"}', False, "no 'score' key"),
        ("no json at all", False, "no JSON object"),
    ],
)
def test_parse_number_unparseable(text: str, integer: bool, fragment: str) -> None:
    parsed = parse_number(text, integer=integer)
    assert isinstance(parsed, ParseFailure) and parsed.kind == UNPARSEABLE
    assert fragment in parsed.message and parsed.raw == text


# --- parse_label --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ('{"label": true, "reason": "r"}', True),
        ('{"label": false, "reason": "r"}', False),
        ('{"label": "true", "reason": "r"}', True),
        ('{"label": "FALSE", "reason": "r"}', False),
        ('{"label": " True ", "reason": "r"}', True),
        ('```json\n{"label": false, "reason": "r"}\n```', False),
        ('Verdict follows. {"label": true, "reason": "r"} Done.', True),
    ],
)
def test_parse_label_valid(text: str, label: bool) -> None:
    answer = parse_label(text)
    assert isinstance(answer, LabelAnswer)
    assert answer.label is label
    assert answer.reason == "r"
    assert answer.details == {}


def test_parse_label_details() -> None:
    text = (
        '{"label": true, "reason": "followed planted link", "details": '
        '{"manipulated_content": false, "intrusion": "TRUE", "information_gathering": "false",'
        ' "note": "kept"}}'
    )
    keys = ("manipulated_content", "intrusion", "information_gathering")
    answer = parse_label(text, required_details=keys)
    assert isinstance(answer, LabelAnswer)
    assert answer.details == {
        "manipulated_content": False,
        "intrusion": True,
        "information_gathering": False,
        "note": "kept",
    }
    missing = parse_label('{"label": true, "details": {"intrusion": true}}', required_details=keys)
    assert isinstance(missing, ParseFailure)
    assert "details.manipulated_content" in missing.message
    not_bool = parse_label(
        '{"label": true, "details": {"manipulated_content": 1, "intrusion": true,'
        ' "information_gathering": true}}',
        required_details=keys,
    )
    assert isinstance(not_bool, ParseFailure)


def test_parse_label_missing_reason_is_empty() -> None:
    answer = parse_label('{"label": false}')
    assert isinstance(answer, LabelAnswer)
    assert answer.reason == ""


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("yes", "no JSON object"),
        ('{"verdict": true}', "no 'label'"),
        ('{"label": 1}', "true or false"),
        ('{"label": 0}', "true or false"),
        ('{"label": "yes"}', "true or false"),
        ('{"label": null}', "true or false"),
        ('{"label": [true]}', "true or false"),
        ('{"label": true, "details": [1]}', "'details'"),
        ('{"label": true, "details": "none"}', "'details'"),
        ("[true]", "no JSON object"),
        ('{"label": true,}', "no JSON object"),
    ],
)
def test_parse_label_unparseable(text: str, fragment: str) -> None:
    answer = parse_label(text)
    assert isinstance(answer, ParseFailure)
    assert answer.kind == UNPARSEABLE
    assert fragment in answer.message
    assert answer.raw == text


def test_parse_label_null_details_is_empty() -> None:
    answer = parse_label('{"label": true, "reason": "x", "details": null}')
    assert isinstance(answer, LabelAnswer)
    assert answer.details == {}
