"""Deterministic checks (evalcli.metrics.checks): verdicts, reasons, and refusals.

Every check is built once (that is where bad parameters are refused) and then called per row.
The regex time limit and the JSON Schema ``$ref`` refusal are tested for real: a pattern that
backtracks catastrophically on a long response, and a loopback HTTP server that must never
receive the request a remote ``$ref`` would make.
"""

from __future__ import annotations

import http.server
import json
import pickle
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from evalcli.metrics.checks import (
    CheckResult,
    Contains,
    ExactMatch,
    JsonSchema,
    JsonValid,
    Length,
    NotContains,
    Regex,
    RegexTimeoutError,
    SimilarityRatio,
    compile_pattern,
    compile_schema,
)

# ---------------------------------------------------------------- exact_match


@pytest.mark.parametrize(
    ("flag", "response", "expected"),
    [
        ("ignore_case", "PARIS", "paris"),
        ("ignore_case", "Straße", "STRASSE"),  # casefold, not lower
        ("ignore_whitespace", "  New   York\n", "New York"),
        ("ignore_punctuation", "Paris!", "Paris"),
        ("ignore_punctuation", "«Paris»、", "Paris"),  # Unicode punctuation too
        ("ignore_punctuation", "$3+4", "34"),  # SQuAD removes ASCII symbols as well
        ("ignore_articles", "the Eiffel Tower", "Eiffel Tower"),
        ("ignore_articles", "An apple a day", "apple day"),
    ],
)
def test_each_normalization_is_needed_and_enough(flag: str, response: str, expected: str) -> None:
    assert not ExactMatch()(response, expected).passed
    result = ExactMatch(**{flag: True})(response, expected)
    assert result == CheckResult(True, f"the response equals {expected!r}", 1.0)


def test_squad_normalization_all_together() -> None:
    squad = ExactMatch(
        ignore_case=True, ignore_whitespace=True, ignore_punctuation=True, ignore_articles=True
    )
    assert squad("The  Eiffel-Tower!", "eiffeltower").passed  # punctuation is deleted
    assert not squad("the tower", "a towers").passed


def test_exact_match_accepts_several_answers_and_says_what_failed() -> None:
    check = ExactMatch(ignore_case=True)
    assert (
        check("rome", ["Paris", "Rome"]).reason == "the response equals 'Rome' (accepted answer 2)"
    )
    failed = check("Lyon", ["Paris", "Rome"])
    assert failed == CheckResult(
        False,
        "the response 'Lyon' (normalized: 'lyon') is not 'Paris' or 1 other accepted answer(s)",
        0.0,
    )
    long = check("x" * 500, "y")
    assert "... (500 chars)" in long.reason and len(long.reason) < 250


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ExactMatch(ignore_case="yes"), "ignore_case must be true or false"),
        (lambda: ExactMatch()(None, "a"), "the response must be a string, got NoneType"),
        (lambda: ExactMatch()("a", []), "the expected answer must be a string or a non-empty"),
        (lambda: ExactMatch()("a", ["a", 1]), "the expected answer must be a string or"),
    ],
)
def test_exact_match_refusals(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


# ---------------------------------------------------------------- contains / not_contains


def test_contains_any_and_all() -> None:
    assert Contains("refund")("We issued a refund.").reason == "contains 'refund'"
    anyof = Contains(["refund", "credit"])
    assert anyof("store credit").passed
    assert anyof("nothing") == CheckResult(False, "contains none of 'refund', 'credit'", 0.0)
    allof = Contains(["refund", "credit"], mode="all")
    assert allof("refund and credit").passed
    assert allof("a refund") == CheckResult(False, "missing 'credit'", 0.0)


def test_contains_case() -> None:
    assert not Contains("Refund")("a refund").passed
    assert Contains("Refund", ignore_case=True)("A REFUND").passed


def test_not_contains() -> None:
    banned = NotContains(["password", "ssn"], ignore_case=True)
    assert banned("all clear") == CheckResult(True, "contains none of 'password', 'ssn'", 1.0)
    assert banned("Your PASSWORD is") == CheckResult(False, "contains 'password'", 0.0)
    not_both = NotContains(["a", "b"], mode="all")
    assert not_both("only a").passed
    assert not_both("a and b") == CheckResult(False, "contains all of 'a', 'b'", 0.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"values": ""}, "must not contain an empty string"),
        ({"values": ["x", ""]}, "must not contain an empty string"),
        ({"values": []}, "values must be a string or a non-empty list"),
        ({"values": "x", "mode": "some"}, "mode must be 'any' or 'all', got 'some'"),
        ({"values": "x", "ignore_case": 1}, "ignore_case must be true or false"),
    ],
)
def test_contains_refusals(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Contains(**kwargs)


# ---------------------------------------------------------------- regex


def test_regex_search_full_match_flags_and_negation() -> None:
    phone = Regex(r"\d{3}-\d{4}")
    assert phone("call 555-1234 now") == CheckResult(
        True, r"/\d{3}-\d{4}/ matched '555-1234' at 5-13", 1.0
    )
    assert not Regex(r"\d{3}-\d{4}", full_match=True)("call 555-1234 now").passed
    assert Regex(r"\d{3}-\d{4}", full_match=True)("555-1234").passed
    assert Regex("^yes$", flags=("i", "multiline"))("Well\nYES\n").passed
    assert not Regex("^yes$")("Well\nYES\n").passed
    no_ssn = Regex(r"\b\d{3}-\d{2}-\d{4}\b", must_match=False)
    assert no_ssn("nothing here").passed
    blocked = no_ssn("SSN 123-45-6789")
    assert not blocked.passed and "matched '123-45-6789'" in blocked.reason


def test_a_bad_pattern_is_reported_when_the_check_is_built() -> None:
    with pytest.raises(ValueError, match=r"pattern '\(unclosed' does not compile: .*position"):
        Regex("(unclosed")
    with pytest.raises(ValueError, match="unknown regex flag 'global'"):
        compile_pattern("x", ["global"])
    with pytest.raises(ValueError, match="timeout_s must be a number of seconds > 0"):
        Regex("x", timeout_s=0)


def test_catastrophic_backtracking_times_out_quickly_with_its_own_error() -> None:
    check = Regex(r"(a|aa)+$", timeout_s=0.25)
    started = time.monotonic()
    with pytest.raises(RegexTimeoutError) as info:
        check("a" * 1_000_000 + "b")
    elapsed = time.monotonic() - started
    assert elapsed < 1.5, elapsed  # without the limit this runs for hours
    assert isinstance(info.value, ValueError)
    assert "took longer than 0.25 s on a 1000001-character response" in str(info.value)


def test_a_harmless_pattern_on_a_megabyte_is_fine_and_checks_pickle() -> None:
    check = pickle.loads(pickle.dumps(Regex("needle", timeout_s=1.0)))
    assert check("hay " * 250_000 + "needle").passed


# ---------------------------------------------------------------- json_valid


@pytest.mark.parametrize(
    ("response", "passed", "reason"),
    [
        ('{"a": [1, 2]}', True, "valid JSON (dict)"),
        ("[1]", True, "valid JSON (list)"),
        ("42", True, "valid JSON (int)"),
        ({"already": "parsed"}, True, "valid JSON (dict)"),
        ('{"a": 1', False, "not valid JSON: Expecting ',' delimiter at line 1 column 8"),
        ("", False, "not valid JSON: Expecting value at line 1 column 1"),
        ('{"a": NaN}', False, "not valid JSON: NaN is not valid JSON"),
        ("[" * 100_000, False, "not valid JSON: nested too deeply"),
    ],
)
def test_json_valid(response: Any, passed: bool, reason: str) -> None:
    assert JsonValid()(response) == CheckResult(passed, reason, 1.0 if passed else 0.0)


def test_json_valid_refuses_a_non_text_response() -> None:
    with pytest.raises(ValueError, match="must be a JSON string, object or array, got int"):
        JsonValid()(42)


# ---------------------------------------------------------------- json_schema

ORDER = {
    "type": "object",
    "required": ["id", "items"],
    "properties": {
        "id": {"type": "integer"},
        "email": {"type": "string", "format": "email"},
        "items": {"type": "array", "items": {"$ref": "#/$defs/item"}},
    },
    "$defs": {
        "item": {
            "type": "object",
            "required": ["price"],
            "properties": {"price": {"type": "number", "minimum": 0}},
        }
    },
}


def test_schema_violations_are_listed_with_their_json_paths() -> None:
    check = JsonSchema(ORDER)
    assert check('{"id": 1, "items": [{"price": 2.5}]}') == CheckResult(
        True, "valid against the schema", 1.0
    )
    result = check('{"id": "7", "items": [{"price": 1}, {}, {"price": -1}]}')
    assert not result.passed
    assert result.reason == (
        "3 schema violations: $.id: '7' is not of type 'integer'; "
        "$.items[1]: 'price' is a required property; "
        "$.items[2].price: -1 is less than the minimum of 0"
    )
    assert check("not json").reason.startswith("not valid JSON")
    assert check({"id": 1, "items": []}).passed  # an already parsed response


def test_many_violations_are_capped_and_long_values_shortened() -> None:
    check = JsonSchema({"type": "array", "items": {"type": "integer"}})
    result = check(json.dumps(["x" * 1000] * 8))
    assert result.reason.startswith("8 schema violations: $[0]: 'xxx")
    assert result.reason.endswith("(and 3 more)")
    assert len(result.reason) < 1000


def test_formats_are_checked_only_on_request() -> None:
    doc = '{"id": 1, "items": [], "email": "not an address"}'
    assert JsonSchema(ORDER)(doc).passed
    assert (
        "$.email: 'not an address' is not a 'email'"
        in JsonSchema(ORDER, check_formats=True)(doc).reason
    )


def test_an_invalid_schema_is_reported_when_the_check_is_built() -> None:
    with pytest.raises(ValueError, match=r"invalid JSON Schema at \$.properties.id.type"):
        JsonSchema({"properties": {"id": {"type": "integr"}}})
    with pytest.raises(ValueError, match="the schema must be a JSON object or boolean, got list"):
        JsonSchema([])


def test_refs_inside_the_schema_and_to_the_meta_schema_resolve_offline() -> None:
    embedded = {
        "$id": "https://example.com/root.json",
        "$defs": {"name": {"$id": "name.json", "type": "string", "minLength": 2}},
        "properties": {"name": {"$ref": "name.json"}},
    }
    assert JsonSchema(embedded)('{"name": "Al"}').passed
    assert not JsonSchema(embedded)('{"name": "A"}').passed
    meta = JsonSchema({"$ref": "https://json-schema.org/draft/2020-12/schema"})
    assert not meta('{"type": 5}').passed
    with pytest.raises(ValueError, match="cannot be resolved"):
        JsonSchema({"$ref": "#/$defs/missing"})("{}")


@pytest.fixture
def schema_server() -> Iterator[tuple[str, list[str]]]:
    """A loopback server that would serve any schema; it records every request it gets."""
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            body = b'{"type": "integer"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/schema+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_remote_ref_is_refused_and_never_fetched(schema_server: tuple[str, list[str]]) -> None:
    base, requests = schema_server
    remote = {"properties": {"n": {"$ref": f"{base}/int.json"}}}
    with pytest.raises(ValueError, match=r"points outside the schema and is never fetched"):
        JsonSchema(remote)
    # The registry the validator uses refuses retrieval by itself too (not only the static
    # check): a validator for a remote $ref, built from the same registry, cannot resolve it
    # (jsonschema's default registry would fetch it from the server).
    validator = compile_schema({"type": "object"}).evolve(schema=remote)
    with pytest.raises(Exception, match="Unresolvable"):
        list(validator.iter_errors({"n": 1}))
    assert requests == []


# ---------------------------------------------------------------- length and similarity


@pytest.mark.parametrize(
    ("check", "response", "passed", "reason"),
    [
        (Length(min=2, max=5), "abcde", True, "5 chars, within bounds"),
        (Length(min=2, max=5), "abcdef", False, "6 chars, above the maximum of 5"),
        (Length(min=2), "a", False, "1 chars, below the minimum of 2"),
        (Length(unit="words", max=3), " one  two\nthree ", True, "3 words, within bounds"),
        (Length(unit="words", min=1), "   ", False, "0 words, below the minimum of 1"),
        (Length(max=2), "東京😀", False, "3 chars, above the maximum of 2"),  # code points
    ],
)
def test_length(check: Length, response: str, passed: bool, reason: str) -> None:
    assert check(response) == CheckResult(passed, reason, 1.0 if passed else 0.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "set min, max or both"),
        ({"min": 5, "max": 2}, r"min \(5\) is greater than max \(2\)"),
        ({"max": -1}, "max must be an integer >= 0, got -1"),
        ({"min": 1.5}, "min must be an integer >= 0, got 1.5"),
        ({"unit": "tokens", "max": 3}, "unit must be 'chars' or 'words', got 'tokens'"),
    ],
)
def test_length_refusals(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Length(**kwargs)


def test_similarity_ratio() -> None:
    result = SimilarityRatio(threshold=0.5)("kitten", "sitting")  # 3 edits over 7 characters
    assert result.score == pytest.approx(4 / 7)
    assert result.passed
    assert result.reason == "similarity 0.571 to 'sitting' is at or above the threshold 0.5"
    assert not SimilarityRatio()("kitten", "sitting").passed  # default threshold 0.8
    best = SimilarityRatio()("colour", ["color", "shade"])
    assert best.passed and "'color'" in best.reason
    assert SimilarityRatio()("", "").score == 1.0
    assert SimilarityRatio()("abc", "").score == 0.0
    assert SimilarityRatio(ignore_case=True)("HELLO", "hello").score == 1.0
    with pytest.raises(ValueError, match="threshold must be a number from 0 to 1, got 80"):
        SimilarityRatio(threshold=80)


def test_checks_are_picklable() -> None:
    for check in (ExactMatch(ignore_case=True), Contains(["a"]), JsonSchema(ORDER), Length(max=1)):
        assert pickle.loads(pickle.dumps(check)) == check
    schema = pickle.loads(pickle.dumps(JsonSchema(ORDER)))
    assert not schema('{"id": "x", "items": []}').passed
