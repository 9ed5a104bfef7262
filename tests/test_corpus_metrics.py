"""Corpus metrics are a declared aggregation kind, not a feature of the sacrebleu evaluators.

Any evaluator - a plugin's, say - that declares an output of role ``CORPUS_STATS`` and gives a
reducer gets ``<alias>.corpus_<stem>``: the scored rows' statistics summed in input order and
reduced once. Failed rows and malformed statistics stay out; a reducer ``compare`` cannot
rebuild makes the metric one that cannot be recomputed, never a crash.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evalcli.aggregate import Aggregator, metric_specs
from evalcli.compare import compare_runs
from evalcli.errors import RowError
from evalcli.evaluators.base import Evaluator
from evalcli.evaluators.context import EvalContext
from evalcli.evaluators.declaration import InputSpec, OutputField, Outputs, Role

FIELDS = (
    OutputField("hit", Role.SCORE, higher_is_better=True),
    OutputField("tally", Role.CORPUS_STATS, stem="accuracy", higher_is_better=True),
)


class Ratio:
    """Hits over trials, from summed ``[hits, trials]``."""

    def __init__(self) -> None:
        self.seen = 0

    def score(self, totals: Sequence[float]) -> float | None:
        return totals[0] / totals[1] if totals[1] else None

    def observe(self, outputs: dict[str, Any]) -> None:
        self.seen += 1

    def describe(self) -> dict[str, Any]:
        return {"reducer": "ratio-of-sums", "rows_seen": self.seen}


class Tally(Evaluator):
    def __init__(self, alias: str) -> None:
        super().__init__(alias, "tally", (InputSpec("response"),), FIELDS)

    def evaluate(self, inputs: dict[str, Any], ctx: EvalContext) -> Outputs:
        raise NotImplementedError

    def corpus_reducer(self, key: str) -> Ratio | None:
        return Ratio() if key == "tally" else None


def test_any_declared_corpus_statistic_is_summed_then_reduced() -> None:
    ev = Tally("t")
    assert [s.name for s in metric_specs(ev)] == ["t.hit", "t.corpus_accuracy", "t.error_count"]
    agg = Aggregator([ev])
    agg.add("t", {"hit": 1.0, "tally": [3, 4]})
    agg.add("t", RowError("bad-input", "no"))  # a failed row adds nothing
    agg.add("t", {"hit": 0.0, "tally": [0, 4]})
    agg.add("t", {"hit": 0.0, "tally": ["x", 4]})  # not statistics: left out
    agg.add("t", {"hit": 0.0, "tally": [1.5, 2]})
    metrics = agg.metrics()
    assert metrics["t.corpus_accuracy"] == 4.5 / 10  # not the mean of 3/4, 0/4 and 1.5/2
    info = agg.metric_info()["t.corpus_accuracy"]
    assert (info.kind, info.direction, info.source_key) == ("corpus", "higher", "tally")
    assert info.corpus == {"reducer": "ratio-of-sums", "rows_seen": 3}
    # Only corpus metrics carry the entry in results.json.
    assert "corpus" not in agg.metric_info()["t.hit"].model_dump(mode="json")


def test_rows_with_statistics_of_another_shape_leave_the_metric_empty() -> None:
    agg = Aggregator([Tally("t")])
    agg.add("t", {"hit": 1.0, "tally": [1, 2]})
    agg.add("t", {"hit": 1.0, "tally": [1, 2, 3]})
    assert agg.metrics()["t.corpus_accuracy"] is None


def test_compare_skips_a_corpus_metric_it_cannot_rebuild(tmp_path: Path) -> None:
    rows = [{"line": 1, "outputs.t.hit": 1.0, "outputs.t.tally": [1, 2]}]
    run = {
        "schema_version": 1,
        "status": "completed",
        "run": {"name": "r", "evaluators": {"t": {"use": "tally", "family": "custom"}}},
        "metrics": {"t.hit": 1.0, "t.corpus_accuracy": 0.5},
        "metric_info": {
            "t.hit": {"evaluator": "t", "kind": "mean", "direction": "higher", "source_key": "hit"},
            "t.corpus_accuracy": {
                "evaluator": "t",
                "kind": "corpus",
                "direction": "higher",
                "source_key": "tally",
                "corpus": {"reducer": "ratio-of-sums"},
            },
        },
        "rows": rows,
    }
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text(json.dumps(run), "utf-8")
    report = compare_runs(tmp_path / "a.json", tmp_path / "b.json")
    assert [m.metric for m in report.comparisons[0].metrics] == ["t.hit"]
    assert "metrics that cannot be recomputed from rows: t.corpus_accuracy" in report.warnings
