"""``document_retrieval`` in real runs: the reference SDK's numbers, row errors, settings.

Rows are the reference cases of ``reference_values.json`` (written with azure-ai-evaluation
1.18.10): every metric of every row, run in process and through the worker pool, equals the
reference's value to 1e-9 with its pass/fail and threshold.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evalcli.cli import app
from evalcli.metrics.retrieval import METRIC_KEYS
from tests.conftest import MakeConfig, RunMode

HERE = Path(__file__).resolve().parent
CASES: list[dict[str, Any]] = json.loads((HERE / "reference_values.json").read_text("utf-8"))[
    "cases"
]
#: Cases the reference scores with its default parameters, that JSON Lines can hold (no NaN
#: or infinite scores) and that evalcli scores too (see test_retrieval_exact.STRICTER).
DEFAULT_CASES = [
    c
    for c in CASES
    if "expected" in c
    and not c["params"]
    and not c["id"].startswith(("err_", "generated_"))
    and c["id"] not in ("infinite_scores", "nan_score")
]
TOLERANCE = 1e-9

CONFIG = """
    dataset: {path: data.jsonl}
    columns:
      retrieval_ground_truth: ${data.labels}
      retrieved_documents: ${data.found}
    evaluators:
      search: {use: document_retrieval%s}
    run: {max_error_rate: 1.0}
    output: {dir: out}
"""


def _rows(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"id": c["id"], "labels": c["retrieval_ground_truth"], "found": c["retrieved_documents"]}
        for c in cases
    ]


def _assert_equals_reference(row: dict[str, Any], case: dict[str, Any]) -> None:
    expected = case["expected"]["document_retrieval_properties"]
    for key in METRIC_KEYS:
        got, want = row[f"outputs.search.{key}"], expected[key]
        if isinstance(want, float) and math.isnan(want):
            assert got is None and row[f"outputs.search.{key}_result"] is None, case["id"]
            continue
        assert type(got) is type(want), (case["id"], key, got, want)
        assert abs(got - want) <= TOLERANCE, (case["id"], key, got, want)
        assert row[f"outputs.search.{key}_result"] == expected[f"{key}_result"], (case["id"], key)
        assert row[f"outputs.search.{key}_threshold"] == expected[f"{key}_threshold"]


def test_runs_equal_the_reference(
    run_mode: RunMode, make_config: MakeConfig, tmp_path: Path
) -> None:
    assert len(DEFAULT_CASES) >= 30
    rows = run_mode.rows(_rows(DEFAULT_CASES), _rows(DEFAULT_CASES))
    cfg = make_config(CONFIG % "", rows)
    res = run_mode.invoke("run", str(cfg), "-q")
    assert res.exit_code == 0, res.stderr
    data = run_mode.results(tmp_path / "out")
    by_id = {c["id"]: c for c in DEFAULT_CASES}
    for row in data["rows"]:
        _assert_equals_reference(row, by_id[row["inputs.id"]])
    # The headline pass rate is NDCG's, as the reference's document_retrieval_result.
    ndcg = [r["outputs.search.ndcg@3_result"] for r in data["rows"]]
    assert data["metrics"]["search.pass_rate"] == pytest.approx(ndcg.count("pass") / len(ndcg))
    assert data["metric_info"]["search.holes"]["direction"] == "lower"


@pytest.mark.parametrize(
    "case_id", ["labels_1_to_5", "fidelity_nan", "labels_0_to_12_mixed", "thresholds_custom"]
)
def test_parameters_named_as_the_reference(
    case_id: str, make_config: MakeConfig, cli: CliRunner, tmp_path: Path
) -> None:
    case = next(c for c in CASES if c["id"] == case_id)
    cfg = make_config(CONFIG % f", params: {json.dumps(case['params'])}", _rows([case]))
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 0, res.stderr
    data = json.loads((tmp_path / "out" / "results.json").read_text("utf-8"))
    _assert_equals_reference(data["rows"][0], case)
    assert data["run"]["evaluators"]["search"]["params"].items() >= case["params"].items()


@pytest.mark.parametrize(
    ("labels", "found", "message"),
    [
        ("not a list", [], "retrieval_ground_truth must be a list of objects, got str"),
        ([], [], "retrieval_ground_truth is empty"),
        (
            [{"document_id": "a", "query_relevance_label": 9}],
            [],
            "query_relevance_label 9 is above ground_truth_label_max (4)",
        ),
        (
            [{"document_id": "a", "query_relevance_label": 1}],
            [{"document_id": "a"}],
            "retrieved_documents[0] has no 'relevance_score'",
        ),
        ([{"document_id": "a", "query_relevance_label": 1}], None, "retrieved_documents is"),
    ],
)
def test_malformed_documents_are_row_errors(
    labels: Any,
    found: Any,
    message: str,
    run_mode: RunMode,
    make_config: MakeConfig,
    tmp_path: Path,
) -> None:
    good = _rows(DEFAULT_CASES[:3])
    cfg = make_config(CONFIG % "", run_mode.rows([{"labels": labels, "found": found}], good))
    res = run_mode.invoke("run", str(cfg), "-q")
    assert res.exit_code == 0, res.stderr
    row = run_mode.results(tmp_path / "out")["rows"][0]
    assert message in row["outputs.search.error"]
    assert row["outputs.search.error_kind"] in ("bad-input", "missing-input")


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (", threshold: 0.5", "does not apply: set params.ndcg_threshold"),
        (", params: {ndcg: 0.5}", "unknown key 'evaluators.search.params.ndcg'"),
        (
            ", params: {ground_truth_label_min: 4, ground_truth_label_max: 4}",
            "must be greater than ground_truth_label_min",
        ),
        (", params: {ground_truth_label_max: 4.5}", "must be a whole number"),
        (", params: {xdcg_threshold: high}", "must be a number"),
    ],
)
def test_bad_settings_fail_validate(
    settings: str, expected: str, make_config: MakeConfig, cli: CliRunner
) -> None:
    cfg = make_config(CONFIG % settings, _rows(DEFAULT_CASES[:1]))
    res = cli.invoke(app, ["validate", str(cfg)])
    assert res.exit_code == 2, res.stdout
    assert expected in res.stderr
    assert "eval.yaml:6:" in res.stderr
