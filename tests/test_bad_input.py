"""Bad input: one clear message naming file:line or the key, exit 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalcli.cli import app
from tests.conftest import BASIC_CONFIG, QA_ROWS, MakeConfig


def run_cli(cli: CliRunner, *args: str) -> tuple[int, str, str]:
    res = cli.invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def assert_usage_error(cli: CliRunner, cfg: Path, *needles: str) -> str:
    """Both validate and run reject the config with exit 2 and one message; nothing written."""
    for cmd in ("validate", "run"):
        code, out, err = run_cli(cli, cmd, str(cfg))
        assert code == 2, (cmd, code, out, err)
        assert "Traceback" not in err and "Traceback" not in out
        assert err.startswith("error: "), err
        lines = err.strip().splitlines()
        assert len(lines) <= 2, err  # message + optional hint
        if len(lines) == 2:
            assert lines[1].startswith("hint: ")
        for needle in needles:
            assert needle in err, (needle, err)
    assert not (cfg.parent / "out" / "results.json").exists()
    return err


def test_config_file_missing(cli: CliRunner, tmp_path: Path) -> None:
    assert_usage_error(cli, tmp_path / "nope.yaml", "nope.yaml", "not found")


def test_yaml_syntax_error_names_line(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config("name: x\ndataset:\n  path: [data.jsonl\nevaluators: {}\n", QA_ROWS)
    assert_usage_error(cli, cfg, "eval.yaml:4", "YAML syntax error")


def test_duplicate_key(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config(BASIC_CONFIG.replace("name: basic", "name: basic\n    name: again"), QA_ROWS)
    assert_usage_error(cli, cfg, "eval.yaml:2", "duplicate key 'name'")


def test_unknown_key_did_you_mean(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config(
        BASIC_CONFIG.replace("output:\n      dir: out", "output:\n      dri: out"), QA_ROWS
    )
    err = assert_usage_error(cli, cfg, "eval.yaml:14:3", "unknown key 'output.dri'")
    assert "did you mean 'dir'" in err


def test_unknown_top_level_key(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config(BASIC_CONFIG + "    gate:\n      - {metric: bleu.bleu, min: 0.1}\n", QA_ROWS)
    err = assert_usage_error(cli, cfg, "eval.yaml:15:1", "unknown key 'gate'")
    assert "did you mean 'gates'" in err


def test_unknown_evaluator_lists_closest(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config(
        BASIC_CONFIG.replace("bleu: {threshold: 0.3}", "blue: {threshold: 0.3}"), QA_ROWS
    )
    err = assert_usage_error(cli, cfg, "eval.yaml:9", "unknown evaluator 'blue'")
    assert "'bleu'" in err and "list-evaluators" in err


def test_unknown_evaluator_via_use(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config(BASIC_CONFIG.replace("use: rouge", "use: rogue"), QA_ROWS)
    err = assert_usage_error(cli, cfg, "eval.yaml:11", "unknown evaluator 'rogue'")
    assert "'rouge'" in err


def test_missing_rouge_type(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config(BASIC_CONFIG.replace("params: {rouge_type: rougeL}", "params: {}"), QA_ROWS)
    assert_usage_error(
        cli, cfg, "eval.yaml:12", "evaluators.rougeL.params.rouge_type", "rouge_type"
    )


def test_invalid_rouge_type(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config(BASIC_CONFIG.replace("rouge_type: rougeL", "rouge_type: rouge9"), QA_ROWS)
    assert_usage_error(cli, cfg, "eval.yaml:12", "rouge_type must be one of", "'rougeL'")


def test_unknown_param(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config(
        BASIC_CONFIG.replace("f1_score: {}", "f1_score: {params: {alpha: 1}}"), QA_ROWS
    )
    assert_usage_error(cli, cfg, "eval.yaml:8", "unknown key 'evaluators.f1_score.params.alpha'")


@pytest.mark.parametrize("value", ["high", "true", "[1, 2]"])
def test_threshold_wrong_type(cli: CliRunner, make_config: MakeConfig, value: str) -> None:
    cfg = make_config(BASIC_CONFIG.replace("threshold: 0.3", f"threshold: {value}"), QA_ROWS)
    assert_usage_error(cli, cfg, "eval.yaml:9", "evaluators.bleu.threshold")


def test_threshold_out_of_range(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config(BASIC_CONFIG.replace("threshold: 0.3", "threshold: 3"), QA_ROWS)
    assert_usage_error(cli, cfg, "eval.yaml:9", "between 0 and 1")


def test_gate_on_unknown_metric(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config(
        BASIC_CONFIG + "    gates:\n      - {metric: bleu.pass_rat, min: 0.5}\n", QA_ROWS
    )
    err = assert_usage_error(cli, cfg, "eval.yaml:16", "gate on unknown metric 'bleu.pass_rat'")
    assert "did you mean 'bleu.pass_rate'" in err


def test_gate_without_bound(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config(BASIC_CONFIG + "    gates:\n      - {metric: bleu.bleu}\n", QA_ROWS)
    assert_usage_error(cli, cfg, "eval.yaml:16", "needs 'min' or 'max'")


def test_mapping_to_absent_column(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config(BASIC_CONFIG.replace("${data.answer}", "${data.anwser}"), QA_ROWS)
    err = assert_usage_error(cli, cfg, "eval.yaml:5", "columns.response", "${data.anwser}")
    assert "available columns: id, answer, truth" in err


def test_evaluator_mapping_to_absent_column(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config(
        BASIC_CONFIG.replace("f1_score: {}", "f1_score: {columns: {response: ${data.other}}}"),
        QA_ROWS,
    )
    assert_usage_error(
        cli, cfg, "eval.yaml:8", "evaluators.f1_score.columns.response", "available columns"
    )


def test_unmapped_required_input(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config(BASIC_CONFIG.replace("      ground_truth: ${data.truth}\n", ""), QA_ROWS)
    assert_usage_error(cli, cfg, "needs input 'ground_truth'", "available columns")


def test_evaluator_columns_key_not_an_input(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config(
        BASIC_CONFIG.replace("f1_score: {}", "f1_score: {columns: {respons: ${data.answer}}}"),
        QA_ROWS,
    )
    err = assert_usage_error(cli, cfg, "eval.yaml:8", "has no input 'respons'")
    assert "did you mean 'response'" in err


def test_malformed_mapping_expression(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config(BASIC_CONFIG.replace("${data.answer}", "data.answer"), QA_ROWS)
    assert_usage_error(cli, cfg, "eval.yaml:5", "is not a column reference")


def test_env_var_not_set(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config(BASIC_CONFIG.replace("name: basic", "name: ${env:EVALCLI_RUN_NAME}"), QA_ROWS)
    assert_usage_error(cli, cfg, "eval.yaml:1", "EVALCLI_RUN_NAME is not set")


def test_dataset_missing(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config(BASIC_CONFIG)
    assert_usage_error(cli, cfg, "eval.yaml:3", "dataset file not found", "data.jsonl")


def test_dataset_empty(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config(BASIC_CONFIG, [])
    assert_usage_error(cli, cfg, "dataset has no rows", "data.jsonl")


def test_dataset_unsupported_suffix(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config(
        BASIC_CONFIG.replace("data.jsonl", "data.parquet"), QA_ROWS, data_name="data.parquet"
    )
    err = assert_usage_error(cli, cfg, "eval.yaml:3", "unsupported dataset suffix '.parquet'")
    assert "dataset.format" in err


def test_jsonl_line_not_an_object(cli: CliRunner, make_config: MakeConfig, tmp_path: Path) -> None:
    cfg = make_config(BASIC_CONFIG, QA_ROWS)
    data = tmp_path / "data.jsonl"
    data.write_text(data.read_text() + "[1, 2]\n" + '{"answer": "x", "truth": "y"}\n')
    assert_usage_error(cli, cfg, "data.jsonl:5", "must be a JSON object, got an array")


def test_jsonl_line_not_json(cli: CliRunner, make_config: MakeConfig, tmp_path: Path) -> None:
    cfg = make_config(BASIC_CONFIG, QA_ROWS)
    data = tmp_path / "data.jsonl"
    lines = data.read_text().splitlines()
    lines[2] = lines[2][:-1]
    data.write_text("\n".join(lines) + "\n")
    assert_usage_error(cli, cfg, "data.jsonl:3", "not valid JSON")


def test_jsonl_invalid_utf8(cli: CliRunner, make_config: MakeConfig, tmp_path: Path) -> None:
    cfg = make_config(BASIC_CONFIG, QA_ROWS)
    data = tmp_path / "data.jsonl"
    data.write_bytes(data.read_bytes() + b'{"answer": "\xff", "truth": "y"}\n')
    assert_usage_error(cli, cfg, "data.jsonl:5", "UTF-8")


def test_csv_ragged_row(cli: CliRunner, make_config: MakeConfig, tmp_path: Path) -> None:
    cfg = make_config(BASIC_CONFIG.replace("data.jsonl", "data.csv"))
    (tmp_path / "data.csv").write_text(
        'answer,truth\nhello there,hello\n"a, quoted",fine\nthree,fields,here\n'
    )
    assert_usage_error(cli, cfg, "data.csv:4", "3 fields but the header has 2")


def test_json_not_array(cli: CliRunner, make_config: MakeConfig, tmp_path: Path) -> None:
    cfg = make_config(BASIC_CONFIG.replace("data.jsonl", "data.json"))
    (tmp_path / "data.json").write_text('{"answer": "x"}')
    assert_usage_error(cli, cfg, "data.json", "array of objects")


def test_output_dir_not_writable(cli: CliRunner, make_config: MakeConfig, tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a directory should be")
    cfg = make_config(BASIC_CONFIG.replace("dir: out", "dir: blocker/out"), QA_ROWS)
    assert_usage_error(cli, cfg, "eval.yaml:14", "not writable")


def test_no_evaluators(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config("dataset: {path: data.jsonl}\nevaluators: {}\n", QA_ROWS)
    assert_usage_error(cli, cfg, "eval.yaml:2", "at least one evaluator")


def test_config_not_a_mapping(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config("- just\n- a list\n", QA_ROWS)
    assert_usage_error(cli, cfg, "eval.yaml:1", "must be a mapping")


def test_missing_dataset_key(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config("evaluators: {f1_score: {}}\n", QA_ROWS)
    assert_usage_error(cli, cfg, "missing required key 'dataset'")


def test_missing_nltk_data_says_what_to_run(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nltk.data

    empty = tmp_path / "no_nltk_data"
    empty.mkdir()
    monkeypatch.setattr(nltk.data, "path", [str(empty)])
    cfg = make_config(BASIC_CONFIG, QA_ROWS)
    err = assert_usage_error(
        cli,
        cfg,
        "NLTK data missing for bleu",
        "punkt_tab",
        "perluniprops",
        "evalcli nltk-data build",
    )
    assert "nltk-data download" in err
    # F1 and ROUGE need no NLTK data: a config without BLEU/GLEU/METEOR still runs.
    cfg = make_config(
        BASIC_CONFIG.replace("      bleu: {threshold: 0.3}\n", ""), QA_ROWS, name="nobleu.yaml"
    )
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 0, res.stderr
