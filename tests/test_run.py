"""`evalcli run` end to end through the CLI: outputs, layout, metrics, gates, exit codes."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evalcli.cli import app
from tests.conftest import BASIC_CONFIG, QA_ROWS, MakeConfig, RunMode

# Values computed with the reference SDK (azure-ai-evaluation 1.18.10 F1ScoreEvaluator).
F1 = {1: 0.6666666666666665, 2: 1.0, 3: 0.6153846153846154, 4: 0.0}


def load_results(out: Path) -> dict[str, Any]:
    text = (out / "results.json").read_text(encoding="utf-8")
    return json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON: {c}"))


def test_run_writes_reference_layout(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path
) -> None:
    cfg = make_config(BASIC_CONFIG, QA_ROWS)
    res = cli.invoke(app, ["run", str(cfg), "--quiet"])
    assert res.exit_code == 0, res.stderr
    data = load_results(tmp_path / "out")
    assert data["schema_version"] == 1
    assert data["status"] == "completed"
    run = data["run"]
    assert run["name"] == "basic" and run["dataset"]["rows"] == 4
    assert len(run["dataset"]["sha256"]) == 64 and len(run["config_sha256"]) == 64
    rows = data["rows"]
    assert [r["line"] for r in rows] == [1, 2, 3, 4]
    first = rows[0]
    assert first["inputs.answer"] == QA_ROWS[0]["answer"]
    assert first["outputs.f1_score.f1_score"] == pytest.approx(F1[1], abs=1e-12)
    assert first["outputs.f1_score.f1_score_result"] == "pass"
    assert first["outputs.f1_score.f1_score_threshold"] == 0.5
    assert first["outputs.f1_score.f1_score_reason"] is None
    assert first["outputs.bleu.bleu_threshold"] == 0.3
    for key in (
        "rouge",
        "rouge_precision",
        "rouge_recall",
        "rouge_f1_score",
        "rouge_precision_result",
        "rouge_result",
    ):
        assert f"outputs.rougeL.{key}" in first
    m = data["metrics"]
    assert m["f1_score.f1_score"] == pytest.approx(sum(F1.values()) / 4, abs=1e-12)
    assert m["f1_score.pass_rate"] == pytest.approx(0.75)
    assert m["f1_score.error_count"] == 0
    assert "rougeL.rouge_precision_pass_rate" in m
    assert data["metric_info"]["f1_score.error_count"]["direction"] == "lower"
    assert data["errors"] == [] and data["gates"] == []


def test_csv_one_line_per_row(cli: CliRunner, make_config: MakeConfig, tmp_path: Path) -> None:
    cfg = make_config(BASIC_CONFIG, QA_ROWS)
    assert cli.invoke(app, ["run", str(cfg), "-q"]).exit_code == 0
    with (tmp_path / "out" / "results.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["line"] for r in rows] == ["1", "2", "3", "4"]
    assert rows[2]["inputs.truth"] == QA_ROWS[2]["truth"]
    assert float(rows[0]["outputs.f1_score.f1_score"]) == pytest.approx(F1[1])
    assert rows[0]["outputs.f1_score.error"] == ""


def test_table_on_stdout_and_json_format(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path
) -> None:
    cfg = make_config(BASIC_CONFIG, QA_ROWS)
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert "f1_score" in res.stdout and "pass rate" in res.stdout
    assert "results:" in res.stderr and "results:" not in res.stdout
    res = cli.invoke(app, ["run", str(cfg), "-q", "--format", "json"])
    assert res.exit_code == 0
    assert json.loads(res.stdout)["metrics"] == load_results(tmp_path / "out")["metrics"]


def test_gate_failure_exits_1(cli: CliRunner, make_config: MakeConfig, tmp_path: Path) -> None:
    cfg = make_config(
        BASIC_CONFIG + "    gates:\n      - {metric: f1_score.pass_rate, min: 0.9}\n"
        "      - {metric: bleu.bleu, max: 1.0}\n",
        QA_ROWS,
    )
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 1, res.stderr
    data = load_results(tmp_path / "out")
    assert data["status"] == "gate_failed"
    g = data["gates"]
    assert g[0] == {
        "metric": "f1_score.pass_rate",
        "op": ">=",
        "threshold": 0.9,
        "value": 0.75,
        "passed": False,
    }
    assert g[1]["op"] == "<=" and g[1]["passed"] is True
    assert "FAIL" in res.stdout


def test_gates_pass_exit_0(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config(
        BASIC_CONFIG + "    gates:\n      - {metric: f1_score.pass_rate, min: 0.7}\n", QA_ROWS
    )
    assert cli.invoke(app, ["run", str(cfg), "-q"]).exit_code == 0


BAD_ROWS = [
    *QA_ROWS,
    {"id": 5, "answer": None, "truth": "null answer"},
    {"id": 6, "answer": 42, "truth": "a number"},
    {"id": 7, "truth": "no answer column in this row"},
]


def test_bad_values_are_row_errors_and_exit_3(
    run_mode: RunMode, make_config: MakeConfig, tmp_path: Path
) -> None:
    cfg = make_config(BASIC_CONFIG, run_mode.rows(BAD_ROWS, QA_ROWS))
    res = run_mode.invoke("run", str(cfg), "-q")
    assert res.exit_code == 3, res.stderr  # default max_error_rate 0
    assert "max_error_rate" in res.stderr
    assert "internal error" not in res.stderr
    data = run_mode.results(tmp_path / "out")
    assert data["status"] == "run_error"
    rows = {r["line"]: r for r in data["rows"]}
    assert len(rows) == len(run_mode.rows(BAD_ROWS, QA_ROWS))  # nothing dropped
    assert rows[5]["outputs.f1_score.error_kind"] == "bad-input"
    assert "null" in rows[5]["outputs.f1_score.error"]
    assert "outputs.f1_score.f1_score" not in rows[5]  # an error never carries a score
    assert "int" in rows[6]["outputs.bleu.error"]
    assert rows[7]["outputs.rougeL.error_kind"] == "missing-input"
    assert "'answer'" in rows[7]["outputs.rougeL.error"]
    errs = data["errors"]
    assert len(errs) == 9 and {e["line"] for e in errs} == {5, 6, 7}
    assert {"line", "evaluator", "kind", "message"} == set(errs[0])
    m = data["metrics"]
    assert m["f1_score.error_count"] == 3
    # Means and pass rates are over the scored rows only (copies of the 4 good rows).
    assert m["f1_score.f1_score"] == pytest.approx(sum(F1.values()) / 4)
    assert m["f1_score.pass_rate"] == pytest.approx(0.75)


def test_max_error_rate_tolerates_errors(run_mode: RunMode, make_config: MakeConfig) -> None:
    cfg = make_config(
        BASIC_CONFIG + "    run: {max_error_rate: 0.5}\n", run_mode.rows(BAD_ROWS, QA_ROWS)
    )
    res = run_mode.invoke("run", str(cfg), "-q")
    assert res.exit_code == 0, res.stderr


ODD_VALUES: list[tuple[Any, str | None]] = [
    # (response value, expected error kind; None = scored as the reference scores text)
    (None, "bad-input"),
    (42, "bad-input"),
    (3.5, "bad-input"),
    (True, "bad-input"),
    (["a", "list"], "bad-input"),
    ({"an": "object"}, "bad-input"),
    ("", None),
    ("   \t ", None),
    ("lone \ud800 surrogate", None),
    ("\udfff", None),
]


def test_odd_values_through_every_nlp_metric(
    run_mode: RunMode, make_config: MakeConfig, tmp_path: Path
) -> None:
    """Each value is scored or an explicit row error naming the input, on both paths."""
    odd = [
        {"id": 100 + i, "answer": value, "truth": "The cat sat on the mat."}
        for i, (value, _kind) in enumerate(ODD_VALUES)
    ]
    cfg = make_config(
        BASIC_CONFIG.replace("output:", "  gleu: {}\n      meteor: {}\n    output:")
        + "    run: {max_error_rate: 1.0}\n",
        run_mode.rows([*odd, *QA_ROWS], QA_ROWS),
    )
    res = run_mode.invoke("run", str(cfg), "-q")
    assert res.exit_code == 0, res.stderr
    data = run_mode.results(tmp_path / "out")
    rows = {r["line"]: r for r in data["rows"]}
    aliases = ("f1_score", "bleu", "rougeL", "gleu", "meteor")
    for line, (value, kind) in enumerate(ODD_VALUES, start=1):
        row = rows[line]
        assert row["inputs.answer"] == value  # kept exactly, surrogates included
        for alias in aliases:
            if kind is None:
                assert f"outputs.{alias}.error" not in row, (value, alias, row)
            else:
                assert row[f"outputs.{alias}.error_kind"] == kind
                assert "'response'" in row[f"outputs.{alias}.error"]
    assert {e["line"] for e in data["errors"]} == {
        line for line, (_v, kind) in enumerate(ODD_VALUES, start=1) if kind is not None
    }
    assert rows[7]["outputs.f1_score.f1_score"] == 0.0  # empty text scores 0, as the reference
    # Every output file is valid UTF-8, and JSON keeps the lone surrogate as an escape.
    (tmp_path / "out" / "results.csv").read_bytes().decode("utf-8")
    raw = (tmp_path / "out" / "results.json").read_bytes().decode("utf-8")
    assert "\\ud800" in raw


def test_limit_and_output_dir_override(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path
) -> None:
    cfg = make_config(BASIC_CONFIG, QA_ROWS)
    other = tmp_path / "elsewhere"
    res = cli.invoke(app, ["run", str(cfg), "-q", "--limit", "2", "--output-dir", str(other)])
    assert res.exit_code == 0, res.stderr
    data = load_results(other)
    assert [r["line"] for r in data["rows"]] == [1, 2]
    assert data["run"]["dataset"]["rows"] == 2
    assert not (tmp_path / "out" / "results.json").exists()


def test_csv_dataset_and_nested_paths(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path
) -> None:
    cfg = make_config(BASIC_CONFIG.replace("data.jsonl", "data.csv"))
    (tmp_path / "data.csv").write_text('answer,truth\n"The cat, sat.",The cat sat.\n')
    assert cli.invoke(app, ["run", str(cfg), "-q"]).exit_code == 0
    row = load_results(tmp_path / "out")["rows"][0]
    assert row["outputs.f1_score.f1_score"] == 1.0

    nested = BASIC_CONFIG.replace("${data.answer}", "${data.messages.1.content}")
    rows = [
        {
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "The cat sat."},
            ],
            "truth": "The cat sat.",
        }
    ]
    cfg = make_config(nested, rows, name="nested.yaml")
    assert cli.invoke(app, ["run", str(cfg), "-q"]).exit_code == 0
    assert load_results(tmp_path / "out")["rows"][0]["outputs.f1_score.f1_score"] == 1.0


def test_implicit_input_by_own_name(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path
) -> None:
    cfg = make_config(
        "dataset: {path: data.jsonl}\nevaluators: {f1_score: {}}\noutput: {dir: out}\n",
        [{"response": "a b c", "ground_truth": "a b c"}],
    )
    assert cli.invoke(app, ["run", str(cfg), "-q"]).exit_code == 0
    assert load_results(tmp_path / "out")["metrics"]["f1_score.f1_score"] == 1.0


def test_env_substitution(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVALCLI_TEST_NAME", "from-env")
    cfg = make_config(
        BASIC_CONFIG.replace("name: basic", "name: run-${env:EVALCLI_TEST_NAME}"), QA_ROWS
    )
    assert cli.invoke(app, ["run", str(cfg), "-q"]).exit_code == 0
    assert load_results(tmp_path / "out")["run"]["name"] == "run-from-env"


def test_internal_error_exit_4(
    cli: CliRunner, make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import evalcli.api

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(evalcli.api, "check_gates", broken)
    cfg = make_config(BASIC_CONFIG, QA_ROWS)
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 4
    assert "internal error, please report" in res.stderr
    assert "Traceback" not in res.stderr
    res = cli.invoke(app, ["run", str(cfg), "-q", "--debug"])
    assert res.exit_code == 4 and "Traceback" in res.stderr


def test_validate_ok(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config(BASIC_CONFIG, QA_ROWS)
    res = cli.invoke(app, ["validate", str(cfg)])
    assert res.exit_code == 0, res.stderr
    assert "4 rows" in res.stdout and "3 evaluators" in res.stdout


def test_every_bundled_config_validates(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    # Bundled configs read connection details from the environment; any value will do for
    # validation, which never calls a model.
    for name in (
        "AZURE_OPENAI_ENDPOINT",
        "AZURE_OPENAI_API_KEY",
        "OPENAI_API_KEY",
        "CONTENT_SAFETY_ENDPOINT",
        "CONTENT_SAFETY_KEY",
        "PHI3_ENDPOINT_URL",
        "PHI3_KEY",
    ):
        monkeypatch.setenv(name, "https://example.invalid" if "ENDPOINT" in name else "x")
    repo = Path(__file__).resolve().parent.parent
    configs = sorted((repo / "configs").glob("*.yaml"))
    assert configs
    for cfg in configs:
        res = cli.invoke(app, ["validate", str(cfg)])
        assert res.exit_code == 0, (cfg, res.stderr)


def test_every_run_writes_report_html_unless_turned_off(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path
) -> None:
    cfg = make_config(BASIC_CONFIG, QA_ROWS)
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 0, res.stderr
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "Content-Security-Policy" in page and "f1_score" in page
    assert "report.html" in res.stderr  # the results line names it
    off = make_config(BASIC_CONFIG.replace("dir: out", "dir: out2\n      html: false"), QA_ROWS)
    res = cli.invoke(app, ["run", str(off), "-q"])
    assert res.exit_code == 0, res.stderr
    assert (tmp_path / "out2" / "results.json").is_file()
    assert not (tmp_path / "out2" / "report.html").exists()
    assert "report.html" not in res.stderr
