"""The deterministic checks as evaluators, in real runs and at ``validate``.

Verdicts and reasons come out per row (in process and through the worker pool); settings are
refused at ``validate`` with ``file:line`` (a regex that does not compile, an invalid JSON
Schema, a schema file that refers to a remote document, bounds the wrong way round); a value
a check cannot read is a row error; a conversation fails if any turn fails; and listing the
evaluators imports none of the libraries the checks use.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evalcli.cli import app
from evalcli.errors import RowError
from evalcli.evaluators.context import EvalContext
from tests.conftest import MakeConfig, RunMode

CONFIG = """
    dataset: {path: data.jsonl}
    columns: {response: ${data.answer}, ground_truth: ${data.truth}}
    evaluators:
      exact_match: {params: {ignore_case: true, ignore_punctuation: true}}
      mentions: {use: contains, params: {value: [Paris, France], mode: all, ignore_case: true}}
      polite: {use: not_contains, params: {value: [idiot, stupid]}}
      year: {use: regex, params: {pattern: '\\b(19|20)\\d\\d\\b'}}
      json_valid: {}
      shape:
        use: json_schema
        params:
          schema: {type: object, required: [city], properties: {city: {type: string}}}
      short: {use: length, params: {max: 6, unit: words}}
      similarity_ratio: {threshold: 0.9}
    run: {max_error_rate: 1.0}
    output: {dir: out}
"""

ROWS = [
    {"answer": "Paris, France.", "truth": "paris france"},
    {"answer": '{"city": 3}', "truth": ["Lyon", '{"city": 3}']},
    {"answer": "In 1999 you were stupid", "truth": "In 1999 you were stupid"},
]


def test_verdicts_and_reasons(run_mode: RunMode, make_config: MakeConfig, tmp_path: Path) -> None:
    cfg = make_config(CONFIG, run_mode.rows(ROWS, ROWS))
    res = run_mode.invoke("run", str(cfg), "-q")
    assert res.exit_code == 0, res.stderr
    data = run_mode.results(tmp_path / "out")
    first, second, third = data["rows"][:3]

    def out(row: dict[str, Any], alias: str, key: str) -> Any:
        return row[f"outputs.{alias}.{key}"]

    assert out(first, "exact_match", "exact_match_result") == "pass"
    assert out(second, "exact_match", "exact_match_result") == "pass"  # 2nd accepted answer
    assert "(accepted answer 2)" in out(second, "exact_match", "exact_match_reason")
    assert out(first, "mentions", "contains_result") == "pass"
    assert out(second, "mentions", "contains_reason") == "missing 'Paris', 'France'"
    assert out(third, "polite", "not_contains_result") == "fail"
    assert out(third, "polite", "not_contains_reason") == "contains 'stupid'"
    assert out(third, "year", "regex_result") == "pass"
    assert "matched '1999' at 3-7" in out(third, "year", "regex_reason")
    assert out(first, "json_valid", "json_valid_result") == "fail"
    assert out(second, "json_valid", "json_valid_result") == "pass"
    assert out(second, "shape", "json_schema_result") == "fail"
    assert out(second, "shape", "json_schema_reason").startswith("1 schema violation: $.city:")
    assert out(third, "short", "length_reason") == "5 words, within bounds"
    assert out(third, "similarity_ratio", "similarity_ratio") == 1.0
    assert out(first, "similarity_ratio", "similarity_ratio_result") == "fail"
    assert out(first, "similarity_ratio", "similarity_ratio_threshold") == 0.9
    metrics = data["metrics"]
    assert metrics["exact_match.pass_rate"] == 1.0
    assert metrics["polite.pass_rate"] == pytest.approx(2 / 3)
    assert data["run"]["evaluators"]["year"]["family"] == "check"
    assert data["run"]["evaluators"]["shape"]["params"]["schema"]["required"] == ["city"]


def test_values_a_check_cannot_read_are_row_errors(
    run_mode: RunMode, make_config: MakeConfig, tmp_path: Path
) -> None:
    bad = [{"answer": None, "truth": "x"}, {"answer": "a", "truth": ["a", 1]}]
    cfg = make_config(CONFIG, run_mode.rows(bad, ROWS))
    res = run_mode.invoke("run", str(cfg), "-q")
    assert res.exit_code == 0, res.stderr
    data = run_mode.results(tmp_path / "out")
    first, second = data["rows"][:2]
    assert first["outputs.year.error_kind"] == "bad-input"
    assert "the response must be a string, got NoneType" in first["outputs.year.error"]
    assert (
        "expected answer must be a string or a non-empty list"
        in second["outputs.exact_match.error"]
    )
    # JSON checks take structured responses: a number is JSON, but not a schema's object.
    assert second["outputs.json_valid.json_valid_result"] == "fail"
    assert "must be a JSON string, object or array" in first["outputs.shape.error"]
    # Failed rows count as errors, never as failures.
    assert data["metrics"]["year.error_count"] == 1
    assert data["metrics"]["exact_match.error_count"] == 2


def _validate(cli: CliRunner, make_config: MakeConfig, spec: str) -> Any:
    cfg = make_config(
        f"""
        dataset: {{path: data.jsonl}}
        columns: {{response: ${{data.answer}}, ground_truth: ${{data.truth}}}}
        evaluators:
          {spec}
        """,
        ROWS,
    )
    return cli.invoke(app, ["validate", str(cfg)])


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("re: {use: regex, params: {pattern: '(unclosed'}}", "does not compile: missing )"),
        ("re: {use: regex, params: {pattern: 'a', flags: [z]}}", "unknown regex flag 'z'"),
        ("re: {use: regex}", "missing required key 'evaluators.re.params'"),
        ("re: {use: regex, params: {pattern: a, timeout_s: 0}}", "greater than 0"),
        ("c: {use: contains, params: {value: ''}}", "must not contain an empty string"),
        ("c: {use: not_contains, params: {value: [a], mode: some}}", "'any' or 'all'"),
        ("s: {use: json_schema, params: {schema: {type: objekt}}}", "invalid JSON Schema"),
        ("s: {use: json_schema, params: {}}", "set either schema"),
        ("s: {use: json_schema, params: {schem: {}}}", "did you mean 'schema' or 'schema_file'"),
        (
            "s: {use: json_schema, params: {schema: {$ref: 'https://example.com/s.json'}}}",
            "points outside the schema and is never fetched",
        ),
        ("n: {use: length, params: {min: 9, max: 3}}", "min (9) is greater than max (3)"),
        ("n: {use: length, params: {}}", "set min, max or both"),
        ("n: {use: length, params: {max: -1}}", "greater than or equal to 0"),
        ("exact_match: {threshold: 0.5}", "does not apply: a check passes or fails"),
        ("exact_match: {params: {ignore_case: 1}}", "must be true or false"),
        ("similarity_ratio: {threshold: 1.5}", "between 0 and 1"),
        ("json_valid: {params: {strict: true}}", "json_valid takes no params"),
    ],
)
def test_bad_settings_fail_validate_with_file_and_line(
    spec: str, expected: str, cli: CliRunner, make_config: MakeConfig
) -> None:
    res = _validate(cli, make_config, spec)
    assert res.exit_code == 2, res.stdout
    assert expected in res.stderr
    assert "eval.yaml:4:" in res.stderr
    assert "Traceback" not in res.stderr


def test_schema_file_is_read_relative_to_the_config(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path
) -> None:
    (tmp_path / "schemas").mkdir()
    schema = {"type": "object", "required": ["city"], "$defs": {"c": {"type": "string"}}}
    schema["properties"] = {"city": {"$ref": "#/$defs/c"}}
    (tmp_path / "schemas" / "city.json").write_text(json.dumps(schema), "utf-8")
    cfg = make_config(
        """
        dataset: {path: data.jsonl}
        columns: {response: ${data.answer}}
        evaluators:
          shape: {use: json_schema, params: {schema_file: schemas/city.json}}
        output: {dir: out}
        """,
        [{"answer": '{"city": "Oslo"}'}, {"answer": '{"city": 1}'}],
    )
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 0, res.stderr
    rows = json.loads((tmp_path / "out" / "results.json").read_text("utf-8"))["rows"]
    assert [r["outputs.shape.json_schema_result"] for r in rows] == ["pass", "fail"]
    assert "$.city: 1 is not of type 'string'" in rows[1]["outputs.shape.json_schema_reason"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read"),
        ("{not json", "is not valid JSON"),
        ('{"$ref": "http://127.0.0.1:9/remote.json"}', "never fetched"),
        ('{"type": 12}', "invalid JSON Schema"),
    ],
)
def test_bad_schema_files(
    content: str | None, expected: str, cli: CliRunner, make_config: MakeConfig, tmp_path: Path
) -> None:
    if content is not None:
        (tmp_path / "schema.json").write_text(content, "utf-8")
    res = _validate(cli, make_config, "s: {use: json_schema, params: {schema_file: schema.json}}")
    assert res.exit_code == 2
    assert expected in res.stderr
    assert "eval.yaml:4:" in res.stderr


def _built(make_config: MakeConfig, spec: str) -> Any:
    from evalcli.config import load_config
    from evalcli.plan import PlanOptions, build_plan

    cfg = make_config(
        f"""
        dataset: {{path: data.jsonl}}
        columns: {{response: ${{data.answer}}}}
        evaluators:
          {spec}
        """,
        [{"answer": "x"}],
    )
    plan = build_plan(load_config(cfg), PlanOptions(check_output_dir=False))
    plan.close()
    return plan.evaluators[0].evaluator


def test_a_regex_that_backtracks_past_its_limit_is_a_row_error(make_config: MakeConfig) -> None:
    ev = _built(make_config, "re: {use: regex, params: {pattern: '(a|aa)+$', timeout_s: 0.05}}")
    with pytest.raises(RowError) as info:
        ev.evaluate({"response": "a" * 100_000 + "b"}, EvalContext(1))
    assert info.value.kind == "regex-timeout"
    assert "took longer than 0.05 s" in info.value.message


def test_a_conversation_fails_if_any_turn_fails(make_config: MakeConfig) -> None:
    ev = _built(make_config, "c: {use: contains, params: {value: thanks}}")
    turns = [
        ev.evaluate({"response": "thanks!"}, EvalContext(1)),
        ev.evaluate({"response": "no."}, EvalContext(1)),
        ev.evaluate({"response": "thanks again"}, EvalContext(1)),
    ]
    combined = ev.combine_turns(turns)
    assert combined["contains_result"] == "fail"
    assert combined["contains_reason"] == "contains none of 'thanks'"


def test_listing_evaluators_imports_no_check_or_sacrebleu_library() -> None:
    script = (
        "import json, runpy, sys\n"
        "sys.argv = ['evalcli', 'list-evaluators', '--json']\n"
        "try:\n"
        "    runpy.run_module('evalcli', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('sacrebleu', 'regex', 'jsonschema', 'rapidfuzz')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)),"
        " file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(proc.stderr.strip().splitlines()[-1]) == []
    listed = {row["name"]: row for row in json.loads(proc.stdout)}
    for name in (
        "exact_match",
        "contains",
        "not_contains",
        "regex",
        "json_valid",
        "json_schema",
        "length",
        "similarity_ratio",
        "chrf",
        "ter",
        "sacrebleu",
        "document_retrieval",
    ):
        assert listed[name]["inputs"] and listed[name]["outputs"], name
    assert listed["chrf"]["outputs"] == ["chrf", "chrf_result", "chrf_threshold", "chrf_stats"]
    assert listed["regex"]["outputs"] == ["regex_result", "regex_reason"]
    assert listed["document_retrieval"]["inputs"] == [
        "retrieval_ground_truth",
        "retrieved_documents",
    ]
