"""Bad input: one clear message naming file:line or the key, exit 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalcli.cli import app
from evalcli.envref import ENV_REF
from tests.conftest import BASIC_CONFIG, QA_ROWS, REPO, MakeConfig


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
        BASIC_CONFIG.replace("data.jsonl", "data.xlsx"), QA_ROWS, data_name="data.xlsx"
    )
    err = assert_usage_error(cli, cfg, "eval.yaml:3", "unsupported dataset suffix '.xlsx'")
    assert "dataset.format" in err and ".parquet" in err


def test_dataset_parquet_suffix_that_is_not_parquet(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path
) -> None:
    pytest.importorskip("pyarrow")
    cfg = make_config(
        BASIC_CONFIG.replace("data.jsonl", "data.parquet"), QA_ROWS, data_name="data.parquet"
    )
    assert_usage_error(cli, cfg, str(tmp_path / "data.parquet"), "cannot read Parquet")


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


# -- unset ${env:NAME}: all reported at once, after everything else is checked -----------------

# BASIC_CONFIG with a name and a judge (unused by its NLP evaluators, but checked) from
# three unset variables, on lines 1, 17 and 19.
THREE_UNSET = BASIC_CONFIG.replace("name: basic", "name: ${env:EVALCLI_RUN_NAME}") + (
    "    judge:\n"
    "      type: azure_openai\n"
    "      endpoint: ${env:EVALCLI_TEST_ENDPOINT}\n"
    "      deployment: gpt-4o\n"
    "      api_key: ${env:EVALCLI_TEST_KEY}\n"
)
THREE_NAMES = ("EVALCLI_RUN_NAME", "EVALCLI_TEST_ENDPOINT", "EVALCLI_TEST_KEY")


def test_every_unset_env_var_in_one_message(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config(THREE_UNSET, QA_ROWS)
    err = assert_usage_error(
        cli,
        cfg,
        "3 environment variables are not set",
        *(
            f"{name} at {cfg}:{place}"
            for name, place in zip(
                THREE_NAMES,
                ("1:7 (name)", "17:13 (judge.endpoint)", "19:12 (judge.api_key)"),
                strict=True,
            )
        ),
        "export EVALCLI_RUN_NAME=... EVALCLI_TEST_ENDPOINT=... EVALCLI_TEST_KEY=...",
        "everything else in the config is valid",
    )
    assert err.count("error:") == 1


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        # One problem per stage of validation: evaluators, dataset, mappings, gates.
        ("f1_score: {}", "f1_scor: {}", "eval.yaml:8:3: unknown evaluator 'f1_scor'"),
        ("path: data.jsonl", "path: nope.jsonl", "eval.yaml:3:9: dataset file not found"),
        ("${data.truth}", "${data.truht}", "maps to ${data.truht}, which no row"),
        ("    output:", "    gates: [{metric: bleu.blue, min: 0}]\n    output:", "'bleu.blue'"),
    ],
)
def test_unset_env_vars_do_not_hide_other_problems(
    cli: CliRunner, make_config: MakeConfig, old: str, new: str, problem: str
) -> None:
    cfg = make_config(THREE_UNSET.replace(old, new), QA_ROWS)
    err = assert_usage_error(
        cli,
        cfg,
        problem,
        "; also, 3 environment variables are not set",
        *(f"{name} at {cfg}:" for name in THREE_NAMES),
    )
    assert "everything else in the config is valid" not in err


def test_problem_caused_by_an_unset_value_is_not_reported_twice(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path
) -> None:
    # A dataset path or output directory that is a placeholder: only the variable is the
    # problem (no "dataset file not found", no directory named after the reference).
    text = THREE_UNSET.replace("path: data.jsonl", "path: ${env:EVALCLI_DATA}")
    cfg = make_config(text.replace("dir: out", "dir: ${env:EVALCLI_OUT}/x"), QA_ROWS)
    err = assert_usage_error(cli, cfg, "5 environment variables are not set", "EVALCLI_DATA at")
    assert "not found" not in err and "; also," not in err
    assert "everything else" not in err  # the dataset could not be checked
    # Without output.dir, the default directory is named after `name:`, unset here too.
    cfg = make_config(
        THREE_UNSET.replace("    output:\n      dir: out\n", ""), QA_ROWS, name="n.yaml"
    )
    assert_usage_error(cli, cfg, "3 environment variables are not set")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.jsonl", "eval.yaml", "n.yaml"]


def test_sample_configs_without_credentials_only_lack_env_vars(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`evalcli validate` on every sample config, with no variable set: either valid, or the
    only problem is the unset variables (each one named)."""
    configs = sorted((REPO / "configs").glob("*.yaml"))
    uses = {cfg: set(ENV_REF.findall(cfg.read_text(encoding="utf-8"))) for cfg in configs}
    for name in set().union(*uses.values()):
        monkeypatch.delenv(name, raising=False)
    assert len(configs) >= 9 and sum(bool(names) for names in uses.values()) >= 8
    for cfg, names in uses.items():
        code, _, err = run_cli(cli, "validate", str(cfg))
        if not names:
            assert code == 0, (cfg, err)
            continue
        assert code == 2, (cfg, err)
        assert "not set" in err and "; also," not in err, err
        assert "everything else in the config is valid" in err, err
        for name in names:
            assert f"{name} at {cfg}:" in err or f"variable {name} is not set" in err, err


def test_secret_values_never_appear_in_unset_env_messages(
    cli: CliRunner, make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-evalcli-test-secret-value"
    monkeypatch.setenv("EVALCLI_TEST_KEY", secret)
    cfg = make_config(THREE_UNSET.replace("f1_score: {}", "f1_scor: {}"), QA_ROWS)
    err = assert_usage_error(cli, cfg, "2 environment variables are not set", "unknown evaluator")
    assert "EVALCLI_TEST_KEY" not in err
    for cmd in ("validate", "run"):
        _, out, err = run_cli(cli, cmd, str(cfg))
        assert secret not in out + err


def test_run_with_unset_env_var_calls_nothing(
    cli: CliRunner, make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evalcli.testing.stub_server import StubServer

    with StubServer(api_key="stub-key") as srv:
        cfg = make_config(
            f"""
            dataset: {{path: data.jsonl}}
            columns:
              query: ${{data.truth}}
              response: ${{data.answer}}
              ground_truth: ${{data.truth}}
            judge:
              type: azure_openai
              endpoint: {srv.url}
              deployment: gpt-4o
              api_key: ${{env:EVALCLI_TEST_KEY}}
              max_retries: 0
            evaluators: {{relevance: {{}}, f1_score: {{}}}}
            output: {{dir: out}}
            """,
            QA_ROWS,
        )
        assert_usage_error(cli, cfg, "environment variable EVALCLI_TEST_KEY is not set")
        assert srv.count() == 0
        # The same config with the variable set is runnable: the refusal was the variable.
        monkeypatch.setenv("EVALCLI_TEST_KEY", "stub-key")
        code, _, err = run_cli(cli, "run", str(cfg), "-q", "--no-cache")
        assert code == 0, err
        assert srv.count() == len(QA_ROWS)
