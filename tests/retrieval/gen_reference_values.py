"""Generate tests/retrieval/reference_values.json from the reference SDK.

Not run by CI. It needs a throwaway virtualenv with the reference SDK, which
must never become a dependency of evalcli:

    python3.11 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install azure-ai-evaluation==1.18.10
    /tmp/refvenv/bin/python tests/retrieval/gen_reference_values.py

The script calls the SDK's public ``DocumentRetrievalEvaluator`` on every case
and stores either its whole output or, for an invalid input, the exception it
raised (class and message), so ``test_retrieval_exact.py`` can check that
evalcli gives the same numbers and rejects the same inputs.

The case list is deterministic. Cases too big to store carry a ``generate``
spec instead of the document lists; :func:`case_inputs` rebuilds them here and
in the test (which imports this file for that function only; nothing below
imports the SDK at module level).
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).with_name("reference_values.json")


def _gt(*pairs: tuple[Any, Any]) -> list[dict[str, Any]]:
    """Ground-truth documents from (document_id, query_relevance_label) pairs."""
    return [{"document_id": d, "query_relevance_label": label} for d, label in pairs]


def _ret(*pairs: tuple[Any, Any]) -> list[dict[str, Any]]:
    """Retrieved documents from (document_id, relevance_score) pairs."""
    return [{"document_id": d, "relevance_score": score} for d, score in pairs]


_GT5 = _gt(("a", 4), ("b", 3), ("c", 2), ("d", 1), ("e", 0))

# (id, constructor params, retrieval_ground_truth, retrieved_documents); a value of
# "<missing>" leaves the keyword out of the call.
_FIXED: list[tuple[str, dict[str, Any], Any, Any]] = [
    ("basic", {}, _gt(("a", 3), ("b", 1)), _ret(("b", 2.0), ("c", 1.5), ("a", 1.0))),
    ("perfect_ranking", {}, _GT5, _ret(("a", 5), ("b", 4), ("c", 3), ("d", 2), ("e", 1))),
    ("reversed_ranking", {}, _GT5, _ret(("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5))),
    ("single_top_doc", {}, _GT5, _ret(("a", 0.9))),
    ("single_hole", {}, _GT5, _ret(("zzz", 0.9))),
    ("all_holes", {}, _GT5, _ret(("x", 3.0), ("y", 2.0), ("z", 1.0))),
    ("all_labelled_zero", {}, _gt(("a", 0), ("b", 0)), _ret(("a", 2.0), ("b", 1.0))),
    ("zeros_and_holes", {}, _gt(("a", 0), ("b", 4)), _ret(("a", 2.0), ("x", 1.0))),
    ("first_relevant_at_rank_4", {}, _GT5, _ret(("e", 9), ("x", 8), ("y", 7), ("a", 6))),
    ("tie_at_top", {}, _GT5, _ret(("c", 1.0), ("a", 1.0), ("b", 0.5))),
    ("tie_across_k", {}, _GT5, _ret(("e", 2.0), ("d", 1.0), ("a", 1.0), ("b", 1.0))),
    ("all_scores_equal", {}, _GT5, _ret(("e", 0.5), ("d", 0.5), ("c", 0.5), ("b", 0.5))),
    ("tied_labels", {}, _gt(("a", 2), ("b", 2), ("c", 2)), _ret(("c", 3), ("a", 2), ("b", 1))),
    ("k_larger_than_list_1", {}, _GT5, _ret(("b", 1.0))),
    ("k_larger_than_list_2", {}, _GT5, _ret(("b", 1.0), ("a", 0.5))),
    ("many_retrieved", {}, _GT5, _ret(*[(f"doc{i}", 100 - i) for i in range(10)], ("a", 1))),
    ("gt_not_retrieved", {}, _GT5, _ret(("d", 2.0), ("e", 1.0))),
    ("empty_retrieved", {}, _GT5, []),
    ("empty_retrieved_small_gt", {}, _gt(("a", 1)), []),
    ("labels_1_to_5", {"ground_truth_label_min": 1, "ground_truth_label_max": 5},
     _gt(("a", 5), ("b", 3), ("c", 1)), _ret(("b", 3), ("x", 2), ("a", 1))),
    ("labels_1_to_5_only_min", {"ground_truth_label_min": 1, "ground_truth_label_max": 5},
     _gt(("a", 1), ("b", 1)), _ret(("a", 3), ("b", 2))),
    ("labels_binary", {"ground_truth_label_min": 0, "ground_truth_label_max": 1},
     _gt(("a", 1), ("b", 0), ("c", 1)), _ret(("b", 3), ("c", 2), ("a", 1))),
    ("labels_0_to_10", {"ground_truth_label_max": 10},
     _gt(("a", 10), ("b", 9), ("c", 2), ("d", 1)), _ret(("c", 4), ("a", 3), ("d", 2), ("b", 1))),
    ("labels_0_to_12_mixed", {"ground_truth_label_max": 12},
     _gt(("a", 12), ("b", 11), ("c", 3), ("d", 10)), _ret(("d", 4), ("c", 3), ("b", 2))),
    ("labels_0_to_20", {"ground_truth_label_max": 20},
     _gt(("a", 20), ("b", 15), ("c", 5)), _ret(("b", 3), ("a", 2), ("c", 1))),
    ("labels_negative", {"ground_truth_label_min": -2, "ground_truth_label_max": 2},
     _gt(("a", 2), ("b", -1), ("c", -2), ("d", 1)), _ret(("b", 3), ("c", 2), ("a", 1))),
    ("labels_negative_hole", {"ground_truth_label_min": -2, "ground_truth_label_max": 2},
     _gt(("a", 2), ("b", -1)), _ret(("b", 3), ("x", 2), ("a", 1))),
    ("labels_negative_only", {"ground_truth_label_min": -3, "ground_truth_label_max": 0},
     _gt(("a", -1), ("b", -3), ("c", -2)), _ret(("c", 3), ("a", 2), ("b", 1))),
    ("labels_wide_negative", {"ground_truth_label_min": -12, "ground_truth_label_max": 3},
     _gt(("a", 3), ("b", -11), ("c", -2), ("d", 0)), _ret(("b", 3), ("c", 2), ("a", 1))),
    ("negative_idcg", {"ground_truth_label_min": -5, "ground_truth_label_max": 1},
     _gt(("a", 1), ("b", -5), ("c", -5)), _ret(("b", 2), ("c", 1))),
    ("fidelity_nan", {"ground_truth_label_min": 1, "ground_truth_label_max": 4},
     _gt(("a", 1), ("b", 1)), _ret(("a", 2), ("b", 1))),
    ("dup_retrieved", {}, _GT5, _ret(("c", 5.0), ("a", 1.0), ("b", 2.0), ("c", 0.1))),
    ("dup_retrieved_holes", {}, _GT5, _ret(("x", 5.0), ("x", 4.0), ("a", 1.0))),
    ("dup_ground_truth", {}, _gt(("a", 4), ("b", 2), ("a", 0)), _ret(("a", 2.0), ("b", 1.0))),
    ("dup_both", {}, _gt(("a", 1), ("a", 3), ("b", 2)),
     _ret(("b", 2.0), ("a", 1.0), ("b", 0.5), ("z", 0.1))),
    ("int_document_ids", {}, _gt((1, 4), (2, 1)), _ret((2, 0.9), (1, 0.8), (3, 0.1))),
    ("int_vs_str_ids", {}, _gt((1, 4), ("2", 3)), _ret(("1", 0.9), (2, 0.8), (1, 0.1))),
    ("unicode_ids", {}, _gt(("文書-1", 4), ("döc 2", 2), ("😀", 1)),
     _ret(("😀", 0.9), ("文書-1", 0.5), ("döc 2", 0.4))),
    ("negative_scores", {}, _GT5, _ret(("a", -3.5), ("b", -1), ("c", -2.25))),
    ("int_and_float_scores", {}, _GT5, _ret(("a", 1), ("b", 1.5), ("c", 2), ("d", 0.25))),
    ("infinite_scores", {}, _GT5, _ret(("a", -math.inf), ("b", math.inf), ("c", 0.0))),
    ("nan_score", {}, _GT5, _ret(("a", 0.5), ("b", math.nan), ("c", 0.7))),
    ("thresholds_custom", {
        "ndcg_threshold": 0.9, "xdcg_threshold": 20, "fidelity_threshold": 0.1,
        "top1_relevance_threshold": 2, "top3_max_relevance_threshold": 4.0,
        "total_retrieved_documents_threshold": 3, "total_ground_truth_documents_threshold": 6},
     _GT5, _ret(("b", 3), ("a", 2), ("x", 1))),
    ("thresholds_at_values", {
        "ndcg_threshold": 1.0, "xdcg_threshold": 100.0, "fidelity_threshold": 1.0,
        "top1_relevance_threshold": 4, "top3_max_relevance_threshold": 4,
        "total_retrieved_documents_threshold": 5, "total_ground_truth_documents_threshold": 5},
     _GT5, _ret(("a", 5), ("b", 4), ("c", 3), ("d", 2), ("e", 1))),
    ("thresholds_zero", {"ndcg_threshold": 0.0, "xdcg_threshold": 0, "fidelity_threshold": 0},
     _GT5, _ret(("x", 1))),
    ("ndcg_threshold_int", {"ndcg_threshold": 1}, _GT5, _ret(("a", 2), ("b", 1))),
    # Invalid inputs: what does the reference raise?
    ("err_gt_empty", {}, [], _ret(("a", 1))),
    ("err_gt_none", {}, None, _ret(("a", 1))),
    ("err_gt_missing", {}, "<missing>", _ret(("a", 1))),
    ("err_retrieved_none", {}, _GT5, None),
    ("err_retrieved_missing", {}, _GT5, "<missing>"),
    ("err_gt_no_document_id", {}, [{"query_relevance_label": 1}], _ret(("a", 1))),
    ("err_gt_no_label", {}, [{"document_id": "a"}], _ret(("a", 1))),
    ("err_gt_label_none", {}, _gt(("a", None)), _ret(("a", 1))),
    ("err_gt_document_id_none", {}, _gt((None, 1)), _ret(("a", 1))),
    ("err_gt_label_float", {}, _gt(("a", 2.0)), _ret(("a", 1))),
    ("err_gt_label_str", {}, _gt(("a", "2")), _ret(("a", 1))),
    ("err_gt_label_bool", {}, _gt(("a", True), ("b", False)), _ret(("a", 1), ("b", 2))),
    ("err_gt_label_below_min", {}, _gt(("a", -1)), _ret(("a", 1))),
    ("err_gt_label_above_max", {}, _gt(("a", 5)), _ret(("a", 1))),
    ("err_gt_label_above_custom_max", {"ground_truth_label_max": 2}, _gt(("a", 3)), _ret(("a", 1))),
    ("err_ret_no_document_id", {}, _GT5, [{"relevance_score": 1.0}]),
    ("err_ret_no_score", {}, _GT5, [{"document_id": "a"}]),
    ("err_ret_score_none", {}, _GT5, _ret(("a", None))),
    ("err_ret_score_str", {}, _GT5, _ret(("a", "0.5"))),
    ("err_ret_score_bool", {}, _GT5, _ret(("a", True), ("b", False))),
    ("err_gt_item_not_object", {}, ["a"], _ret(("a", 1))),
    ("err_ret_item_not_object", {}, _GT5, [["a", 1.0]]),
    ("err_gt_is_object", {}, {"document_id": "a", "query_relevance_label": 1}, _ret(("a", 1))),
    ("err_ret_is_object", {}, _GT5, {"document_id": "a", "relevance_score": 1}),
    ("err_ret_is_string", {}, _GT5, "a,b,c"),
    ("err_document_id_list", {}, _gt((["a"], 1)), _ret(("a", 1))),
    ("err_document_id_float", {}, _gt((1.0, 3)), _ret((1, 1.0))),
    ("err_zero_idcg", {"ground_truth_label_min": -1},
     _gt(("a", 0), ("b", 0), ("c", 0), ("d", -1)), _ret(("d", 1.0))),
    ("err_hole_outside_range", {"ground_truth_label_min": -3, "ground_truth_label_max": -1},
     _gt(("a", -1), ("b", -2)), _ret(("a", 2), ("x", 1))),
    ("err_init_min_float", {"ground_truth_label_min": 0.0}, _GT5, _ret(("a", 1))),
    ("err_init_max_str", {"ground_truth_label_max": "4"}, _GT5, _ret(("a", 1))),
    ("err_init_min_equals_max", {"ground_truth_label_min": 2, "ground_truth_label_max": 2},
     _GT5, _ret(("a", 1))),
    ("err_init_min_above_max", {"ground_truth_label_min": 5}, _GT5, _ret(("a", 1))),
    ("err_init_bool_range", {"ground_truth_label_min": False, "ground_truth_label_max": True},
     _gt(("a", 1)), _ret(("a", 1))),
    ("err_threshold_ndcg_none", {"ndcg_threshold": None}, _GT5, _ret(("a", 1))),
    ("err_threshold_xdcg_none", {"xdcg_threshold": None}, _GT5, _ret(("a", 1))),
    ("err_threshold_str", {"fidelity_threshold": "0.5"}, _GT5, _ret(("a", 1))),
]  # fmt: skip

#: Cases too big to store: rebuilt from these specs by :func:`case_inputs`.
GENERATED_SPECS: list[dict[str, Any]] = [
    {"kind": "many", "gt": 10000, "retrieved": 10000, "seed": 11},
    {"kind": "many", "gt": 10001, "retrieved": 5, "seed": 12},
    {"kind": "many", "gt": 20, "retrieved": 10001, "seed": 13},
]


def _random_case(rng: random.Random, index: int) -> dict[str, Any]:
    low, high = rng.choice([(0, 4), (0, 4), (0, 4), (1, 5), (0, 1), (0, 10), (-2, 2), (0, 3)])
    n_gt = rng.randint(1, 25)
    pool = [f"d{i}" for i in range(n_gt + rng.randint(0, 10))]
    gt_ids = rng.sample(pool, n_gt)
    if rng.random() < 0.2:  # a duplicated ground-truth id
        gt_ids.append(rng.choice(gt_ids))
    ground_truth = [(d, rng.randint(low, high)) for d in gt_ids]
    n_ret = rng.randint(0, 20)
    retrieved = []
    for _ in range(n_ret):
        score: float = rng.choice([round(rng.uniform(-1, 10), 3), float(rng.randint(0, 5))])
        retrieved.append((rng.choice([*pool, "hole1", "hole2"]), score))
    params: dict[str, Any] = {}
    if (low, high) != (0, 4):
        params = {"ground_truth_label_min": low, "ground_truth_label_max": high}
    return {
        "id": f"random_{index}",
        "params": params,
        "retrieval_ground_truth": _gt(*ground_truth),
        "retrieved_documents": _ret(*retrieved),
    }


def case_inputs(case: dict[str, Any]) -> tuple[Any, Any]:
    """Return a case's (retrieval_ground_truth, retrieved_documents), rebuilding generated ones.

    Either may be the string ``"<missing>"``: the keyword is left out of the call.
    """
    spec = case.get("generate")
    if spec is None:
        return case["retrieval_ground_truth"], case["retrieved_documents"]
    rng = random.Random(spec["seed"])
    gt = _gt(*[(f"g{i}", rng.randint(0, 4)) for i in range(spec["gt"])])
    ret = _ret(
        *[(f"g{rng.randrange(spec['gt'] * 2)}", rng.random()) for _ in range(spec["retrieved"])]
    )
    return gt, ret


def build_cases() -> list[dict[str, Any]]:
    """The full, deterministic case list: fixed, random and generated cases."""
    cases: list[dict[str, Any]] = [
        {"id": name, "params": params, "retrieval_ground_truth": gt, "retrieved_documents": ret}
        for name, params, gt, ret in _FIXED
    ]
    rng = random.Random(20250612)
    cases += [_random_case(rng, index) for index in range(40)]
    cases += [
        {"id": f"generated_{spec['gt']}_{spec['retrieved']}", "params": {}, "generate": spec}
        for spec in GENERATED_SPECS
    ]
    return cases


def main() -> None:
    """Run every case through the reference SDK and write the JSON file."""
    import contextlib
    import io
    from importlib.metadata import version

    from azure.ai.evaluation import DocumentRetrievalEvaluator

    records = []
    started = time.monotonic()
    for case in build_cases():
        gt, ret = case_inputs(case)
        kwargs = {}
        if gt != "<missing>":
            kwargs["retrieval_ground_truth"] = gt
        if ret != "<missing>":
            kwargs["retrieved_documents"] = ret
        record = dict(case)
        try:
            evaluator = DocumentRetrievalEvaluator(**case["params"])
        except Exception as exc:  # the reference's own validation of its parameters
            record["raises"] = {"at": "init", "type": type(exc).__name__, "message": str(exc)}
            records.append(record)
            continue
        try:
            # The SDK prints "Error converting kwargs ..." before raising; keep the log clean.
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                record["expected"] = evaluator(**kwargs)
        except Exception as exc:
            record["raises"] = {"at": "call", "type": type(exc).__name__, "message": str(exc)}
        records.append(record)

    payload = {
        "about": "DocumentRetrievalEvaluator outputs and exceptions from the reference SDK; "
        "regenerate with gen_reference_values.py.",
        "reference": {
            "azure-ai-evaluation": version("azure-ai-evaluation"),
            "python": sys.version.split()[0],
        },
        "cases": records,
    }
    # One case per line: the file stays small and a regenerated case shows as a one-line diff.
    head = json.dumps({k: v for k, v in payload.items() if k != "cases"}, ensure_ascii=False)
    lines = [json.dumps(record, ensure_ascii=False) for record in records]
    text = head[:-1] + ', "cases": [\n' + ",\n".join(lines) + "\n]}\n"
    OUTPUT.write_text(text, encoding="utf-8")
    raised = sum("raises" in r for r in records)
    print(
        f"wrote {len(records)} cases ({raised} raising) to {OUTPUT} "
        f"({len(text.encode()) / 1024:.0f} KiB) in {time.monotonic() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
