"""evalcli.metrics.retrieval equals the reference SDK's DocumentRetrievalEvaluator.

Expected outputs and exceptions come from ``reference_values.json``, written by
``gen_reference_values.py`` with azure-ai-evaluation 1.18.10 (see that file). Every
output the reference produces must come out with the same keys in the same order, the
same value types, and numbers within 1e-9; every input the reference rejects (or crashes
on) must raise ``ValueError`` with a message that names the problem. A few inputs the
reference accepts are rejected on purpose (:data:`STRICTER`).
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from evalcli.metrics.retrieval import DocumentRetrievalParams, document_retrieval

HERE = Path(__file__).resolve().parent
TOLERANCE = 1e-9


def _load_generator() -> ModuleType:
    # Imported by path: tests/retrieval is not a package.
    spec = importlib.util.spec_from_file_location(
        "_retrieval_reference_gen", HERE / "gen_reference_values.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _load_generator()
REFERENCE: dict[str, Any] = json.loads((HERE / "reference_values.json").read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = REFERENCE["cases"]

#: Inputs the reference accepts (or turns into a crash later) that evalcli rejects, and why.
STRICTER = {
    "err_gt_label_bool": "a boolean label crashes the reference with KeyError('True')",
    "err_ret_score_bool": "a boolean score is a data error, not a ranking",
    "err_ret_is_object": "the reference scores a non-list as 'nothing retrieved'",
    "err_ret_is_string": "the reference scores a non-list as 'nothing retrieved'",
    "err_document_id_float": "the reference matches 1.0 with the id 1",
    "err_init_bool_range": "booleans as label bounds are a configuration error",
}

#: What evalcli's message says for each rejected case (the reference's exception is in the JSON).
MESSAGES = {
    "err_gt_empty": "retrieval_ground_truth is empty",
    "err_gt_none": "retrieval_ground_truth is missing",
    "err_gt_missing": "retrieval_ground_truth is missing",
    "err_retrieved_none": "retrieved_documents is missing",
    "err_retrieved_missing": "retrieved_documents is missing",
    "err_gt_no_document_id": "retrieval_ground_truth[0] has no 'document_id'",
    "err_gt_no_label": "retrieval_ground_truth[0] has no 'query_relevance_label'",
    "err_gt_label_none": "retrieval_ground_truth[0] has no 'query_relevance_label'",
    "err_gt_document_id_none": "retrieval_ground_truth[0] has no 'document_id'",
    "err_gt_label_float": "query_relevance_label must be an integer, got 2.0 (float)",
    "err_gt_label_str": "query_relevance_label must be an integer, got '2' (str)",
    "err_gt_label_bool": "query_relevance_label must be an integer, got True (bool)",
    "err_gt_label_below_min": "query_relevance_label -1 is below ground_truth_label_min (0)",
    "err_gt_label_above_max": "query_relevance_label 5 is above ground_truth_label_max (4)",
    "err_gt_label_above_custom_max": "query_relevance_label 3 is above ground_truth_label_max (2)",
    "err_ret_no_document_id": "retrieved_documents[0] has no 'document_id'",
    "err_ret_no_score": "retrieved_documents[0] has no 'relevance_score'",
    "err_ret_score_none": "retrieved_documents[0] has no 'relevance_score'",
    "err_ret_score_str": "relevance_score must be a number, got '0.5' (str)",
    "err_ret_score_bool": "relevance_score must be a number, got True (bool)",
    "err_gt_item_not_object": "retrieval_ground_truth[0] must be an object, got str",
    "err_ret_item_not_object": "retrieved_documents[0] must be an object, got list",
    "err_gt_is_object": "retrieval_ground_truth must be a list of objects, got dict",
    "err_ret_is_object": "retrieved_documents must be a list of objects, got dict",
    "err_ret_is_string": "retrieved_documents must be a list of objects, got str",
    "err_document_id_list": "document_id must be a string or an integer, got ['a'] (list)",
    "err_document_id_float": "document_id must be a string or an integer, got 1.0 (float)",
    "err_zero_idcg": "the ideal DCG of the labelled documents is 0",
    "err_hole_outside_range": "counts as label 0, which is outside the label range [-3, -1]",
    "err_init_min_float": "ground_truth_label_min must be an integer, got 0.0",
    "err_init_max_str": "ground_truth_label_max must be an integer, got '4'",
    "err_init_min_equals_max": "ground_truth_label_max (2) must be greater than",
    "err_init_min_above_max": "ground_truth_label_max (4) must be greater than",
    "err_init_bool_range": "ground_truth_label_min must be an integer, got False",
    "err_threshold_ndcg_none": "ndcg_threshold must be a number, got None",
    "err_threshold_xdcg_none": "xdcg_threshold must be a number, got None",
    "err_threshold_str": "fidelity_threshold must be a number, got '0.5'",
    "generated_10001_5": "retrieval_ground_truth has 10001 items; at most 10000",
    "generated_20_10001": "retrieved_documents has 10001 items; at most 10000",
}

SCORED = [c for c in CASES if "expected" in c and c["id"] not in STRICTER]
REJECTED = [c for c in CASES if "raises" in c or c["id"] in STRICTER]


def _run(case: dict[str, Any]) -> dict[str, Any]:
    ground_truth, retrieved = GEN.case_inputs(case)
    missing = "<missing>"
    return document_retrieval(
        None if ground_truth == missing else ground_truth,
        None if retrieved == missing else retrieved,
        DocumentRetrievalParams(**case["params"]),
    )


def _assert_same(got: Any, expected: Any, path: str) -> None:
    """Same JSON shape, key order and value types; floats within TOLERANCE (NaN equals NaN)."""
    assert type(got) is type(expected), f"{path}: {got!r} is not a {type(expected).__name__}"
    if isinstance(expected, dict):
        assert list(got) == list(expected), f"{path}: keys differ"
        for key in expected:
            _assert_same(got[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, float):
        if math.isnan(expected):
            assert math.isnan(got), f"{path}: {got!r} != NaN"
        else:
            assert got == expected or abs(got - expected) <= TOLERANCE, f"{path}: {got!r}"
    else:
        assert got == expected, f"{path}: {got!r} != {expected!r}"


def test_the_stored_cases_cover_what_the_brief_asks() -> None:
    ids = {c["id"] for c in CASES}
    assert len(SCORED) >= 60
    for needed in ("tie_at_top", "gt_not_retrieved", "k_larger_than_list_1", "all_holes",
                   "empty_retrieved", "labels_1_to_5", "labels_0_to_10", "labels_negative",
                   "dup_retrieved", "dup_ground_truth", "generated_10000_10000"):  # fmt: skip
        assert needed in ids
    assert set(MESSAGES) == {c["id"] for c in REJECTED}


@pytest.mark.parametrize("case", SCORED, ids=[c["id"] for c in SCORED])
def test_scores_equal_the_reference(case: dict[str, Any]) -> None:
    _assert_same(_run(case), case["expected"], case["id"])


@pytest.mark.parametrize("case", REJECTED, ids=[c["id"] for c in REJECTED])
def test_rejected_inputs_raise_a_clear_value_error(case: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as info:
        _run(case)
    assert MESSAGES[case["id"]] in str(info.value)


def test_json_document_lists_round_trip() -> None:
    """Outputs are plain JSON values (results.json stores them as they are)."""
    case = next(c for c in CASES if c["id"] == "basic")
    out = _run(case)
    assert json.loads(json.dumps(out)) == out


def test_an_unlabelled_document_scores_as_label_zero_in_a_shifted_range() -> None:
    """With labels 1-5 a hole still counts as 0 (below the range), exactly as the reference."""
    out = document_retrieval(
        [{"document_id": "a", "query_relevance_label": 5}],
        [{"document_id": "x", "relevance_score": 2}, {"document_id": "a", "relevance_score": 1}],
        DocumentRetrievalParams(ground_truth_label_min=1, ground_truth_label_max=5),
    )["document_retrieval_properties"]
    assert out["top1_relevance"] == 0
    assert out["top3_max_relevance"] == 5
    assert out["holes"] == 1 and out["holes_ratio"] == 0.5
