"""The core without the CLI: declarations and settings, the plan, the runner and the aggregator.

A small test evaluator is declared the way a plugin declares one and registered in a registry
of its own, so these tests see exactly what the core reads: the declaration, the settings
model and the capabilities of :class:`~evalcli.plugin.Evaluator`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from evalcli.aggregate import Aggregator
from evalcli.config import load_config
from evalcli.errors import ConfigError
from evalcli.evaluators.builtins import register as register_builtins
from evalcli.plan import PlanOptions, RunPlan, build_plan
from evalcli.plugin import (
    BuildContext,
    EvalContext,
    Evaluator,
    EvaluatorInfo,
    EvaluatorParams,
    Family,
    Field,
    InputSpec,
    Options,
    OutputField,
    Outputs,
    Registry,
    Role,
    RowError,
    Threshold,
    check_threshold,
)
from evalcli.registry import plugin_filter
from evalcli.results import PartialOutcome, RowResult
from evalcli.runner import Runner
from tests.conftest import MakeConfig

SHOUT_FIELDS = (
    OutputField("shout", Role.SCORE, range=(0.0, 1.0), default_threshold=0.5),
    OutputField("shout_result", Role.RESULT, stem="shout", primary=True),
    OutputField("shout_threshold", Role.THRESHOLD, stem="shout"),
)


class ShoutOptions(Options):
    refused: ClassVar[dict[str, str]] = {"threshold": "does not apply: put it beside use"}

    letters_only: bool = Field(default=False, description="true or false")


class ShoutParams(EvaluatorParams):
    refused: ClassVar[dict[str, str]] = {"prompt": "does not apply: shout has no rubric"}

    threshold: Threshold | None = None
    params: ShoutOptions = Field(default_factory=ShoutOptions)


class Shout(Evaluator):
    """Share of upper-case characters; ``boom`` raises, ``bad`` is a row error."""

    warmed: ClassVar[int] = 0

    def __init__(self, alias: str, threshold: float, letters_only: bool):
        super().__init__(alias, "shout", (InputSpec("response"),), SHOUT_FIELDS)
        self.threshold = threshold
        self.letters_only = letters_only

    def warm_up(self) -> None:
        type(self).warmed += 1

    def evaluate(self, inputs: dict[str, Any], ctx: EvalContext) -> Outputs:
        text = inputs["response"]
        if text == "boom":
            raise ValueError("exploded")
        if text == "bad":
            raise RowError("bad-input", "bad text")
        chars = [c for c in text if c.isalpha()] if self.letters_only else list(text)
        share = sum(c.isupper() for c in chars) / len(chars)
        return {
            "shout": share,
            "shout_result": "pass" if share <= self.threshold else "fail",
            "shout_threshold": self.threshold,
        }

    def combine_turns(self, turns: Sequence[Outputs]) -> Outputs:
        return dict(turns[0])  # the first turn decides (shows that the core asks the evaluator)


built: list[ShoutParams] = []


def build_shout(alias: str, params: ShoutParams, ctx: BuildContext) -> Evaluator:
    built.append(params)
    t = 0.5 if params.threshold is None else check_threshold(params.threshold, 0, 1, ctx)
    return Shout(alias, t, params.params.letters_only)


SHOUT = EvaluatorInfo(
    "shout",
    Family.CUSTOM,
    "share of upper-case characters",
    (InputSpec("response"),),
    SHOUT_FIELDS,
    build_shout,
    ShoutParams,
)


@pytest.fixture
def registry() -> Registry:
    reg = Registry()
    reg.run_hook(register_builtins, source="builtin")
    reg.add(SHOUT)
    built.clear()
    Shout.warmed = 0
    return reg


def plan_of(
    make_config: MakeConfig, registry: Registry, evaluators: str, rows: list[dict[str, Any]]
) -> RunPlan:
    cfg = make_config(
        "dataset: {path: data.jsonl}\nevaluators:\n" + evaluators + "\noutput: {dir: out}\n", rows
    )
    return build_plan(load_config(cfg), PlanOptions(workers=0), registry=registry)


# -- declarations and settings ----------------------------------------------------------------


def test_declaration_lists_results_and_its_default_threshold(registry: Registry) -> None:
    assert SHOUT.output_keys == ("shout", "shout_result", "shout_threshold")
    assert SHOUT.default_threshold == 0.5
    rouge = registry.require("rouge")
    assert rouge.default_threshold == 0.5 and "rouge_precision_result" in rouge.output_keys
    assert registry.require("qa").default_threshold is None  # members on different scales
    relevance = registry.require("relevance")
    assert "relevance_prompt_tokens" not in relevance.output_keys  # bookkeeping left out
    assert any(f.key == "relevance_prompt_tokens" for f in relevance.outputs)


def test_settings_reach_the_factory_typed(make_config: MakeConfig, registry: Registry) -> None:
    plan = plan_of(
        make_config,
        registry,
        "  s: {use: shout, threshold: 0.25, params: {letters_only: true}}",
        [{"response": "Hi"}],
    )
    assert built == [ShoutParams(threshold=0.25, params=ShoutOptions(letters_only=True))]
    ev = plan.evaluators[0].evaluator
    assert ev.family == "custom"  # stamped from the declaration
    assert plan.metric_names == ["s.shout", "s.pass_rate", "s.error_count"]


@pytest.mark.parametrize(
    ("spec", "message", "hint"),
    [
        ("{use: shout, treshold: 0.2}", "unknown key 'evaluators.s.treshold'", "'threshold'"),
        ("{use: shout, backend: judge}", "evaluators.s.backend applies only to ", None),
        ("{use: shout, prompt: x.prompty}", "evaluators.s.prompt does not apply: shout", None),
        ("{use: shout, params: {threshold: 1}}", "evaluators.s.params.threshold does not", None),
        ("{use: shout, params: {letters: 1}}", "'evaluators.s.params.letters'", "letters_only"),
        ("{use: shout, params: {letters_only: 3}}", "params.letters_only must be true", None),
        ("{use: shout, threshold: 2}", "threshold must be between 0 and 1", None),
        ("{use: shout, threshold: Low}", "severity labels apply only to", None),
        ("{use: rouge, params: {}}", "'evaluators.s.params.rouge_type'", "set params.rouge_type"),
    ],
)
def test_settings_errors_name_the_key(
    make_config: MakeConfig, registry: Registry, spec: str, message: str, hint: str | None
) -> None:
    with pytest.raises(ConfigError) as caught:
        plan_of(make_config, registry, f"  s: {spec}", [{"response": "Hi"}])
    err = caught.value
    assert message in err.message, err.message
    assert err.where is not None and err.where.startswith(str(Path.cwd() / "eval.yaml") + ":3:")
    if hint is not None:
        assert err.hint is not None and hint in err.hint, err.hint


def test_a_key_other_evaluators_take_names_them(
    make_config: MakeConfig, registry: Registry
) -> None:
    with pytest.raises(ConfigError) as caught:
        plan_of(make_config, registry, "  s: {use: shout, outputs: [x]}", [{"response": "x"}])
    assert caught.value.message == "evaluators.s.outputs applies only to code evaluators"


def test_registry_refuses_a_malformed_declaration() -> None:
    from dataclasses import replace

    from pydantic import BaseModel

    class Loose(BaseModel):
        threshold: float = 0.5

    reg = Registry()
    with pytest.raises(TypeError, match="subclass EvaluatorParams"):
        reg.add(replace(SHOUT, params_model=Loose))  # type: ignore[arg-type]
    assert len(reg) == 0


@pytest.mark.parametrize(
    ("setting", "allowed"),
    [
        (None, None),
        ("none", frozenset()),
        ("", frozenset()),
        (" NONE ", frozenset()),
        ("evalcli_plugin.Demo, other-one", frozenset({"evalcli-plugin-demo", "other-one"})),
    ],
)
def test_plugin_filter(setting: str | None, allowed: frozenset[str] | None) -> None:
    assert plugin_filter(setting) == allowed


# -- the runner ---------------------------------------------------------------------------------


class ListSink:
    def __init__(self) -> None:
        self.rows: list[RowResult] = []

    def write(self, row: RowResult) -> None:
        self.rows.append(row)


def test_runner_keeps_order_and_isolates_row_failures(
    make_config: MakeConfig, registry: Registry
) -> None:
    texts = ["HI", "boom", "bad", None, "ok"]
    rows = [{"response": t, "ground_truth": "ok"} if t else {} for t in texts]
    plan = plan_of(make_config, registry, "  s: {use: shout}\n  f1_score: {}", rows)
    sink = ListSink()
    stats = Runner(plan, sink).run()
    assert stats.rows_done == 5 and stats.fatal is None and stats.workers == 0
    assert [r.line for r in sink.rows] == [1, 2, 3, 4, 5]
    assert all(list(r.outcomes) == ["s", "f1_score"] for r in sink.rows)  # config order
    outcomes = [r.outcomes["s"] for r in sink.rows]
    assert outcomes[0] == {"shout": 1.0, "shout_result": "fail", "shout_threshold": 0.5}
    assert isinstance(outcomes[1], RowError) and outcomes[1].kind == "evaluator-exception"
    assert "ValueError: exploded" in outcomes[1].message
    assert isinstance(outcomes[2], RowError) and outcomes[2].kind == "bad-input"
    assert isinstance(outcomes[3], RowError) and outcomes[3].kind == "missing-input"
    assert outcomes[4] == {"shout": 0.0, "shout_result": "pass", "shout_threshold": 0.5}
    assert Shout.warmed == 1  # warmed once, before any row


def test_runner_combines_turns_the_evaluators_way(
    make_config: MakeConfig, registry: Registry
) -> None:
    conversation = {
        "messages": [
            {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "ab"},
            {"role": "user", "content": "q2"},
            {"role": "assistant", "content": "AB"},
        ]
    }
    plan = plan_of(
        make_config,
        registry,
        "  first: {use: shout}\n  mean: {use: shout, aggregation: mean}",
        [{"conversation": conversation}],
    )
    sink = ListSink()
    Runner(plan, sink).run()
    first, mean = sink.rows[0].outcomes["first"], sink.rows[0].outcomes["mean"]
    assert isinstance(first, dict) and isinstance(mean, dict)
    assert first["shout"] == 0.0 and first["shout_result"] == "pass"  # its combine_turns
    assert mean["shout"] == 0.5 and mean["shout_result"] == "pass"  # aggregation: forces it
    assert first["evaluation_per_turn"]["shout"] == [0.0, 1.0]


# -- the aggregator --------------------------------------------------------------------------


def test_aggregator_means_and_rates_cover_scored_rows_only() -> None:
    ev = Shout("s", 0.5, False)
    ev.family = "custom"
    agg = Aggregator([ev])
    agg.add("s", {"shout": 1.0, "shout_result": "fail", "shout_threshold": 0.5})
    agg.add("s", {"shout": 0.0, "shout_result": "pass", "shout_threshold": 0.5})
    agg.add("s", RowError("bad-input", "x"))
    assert agg.metrics() == {"s.shout": 0.5, "s.pass_rate": 0.5, "s.error_count": 1}
    assert (agg.total_errors, agg.total_pairs) == (1, 3)
    info = agg.metric_info()
    assert info["s.pass_rate"].subject == "shout" == info["s.shout"].subject
    # results.json records the subject, the threshold key and the declared scale.
    dumped = info["s.shout"].model_dump(mode="json")
    assert dumped["subject"] == "shout" and dumped["threshold_key"] == "shout_threshold"
    assert dumped["scale"] == {"min": 0.0, "max": 1.0, "integer": False}
    assert "scale" not in info["s.pass_rate"].model_dump(mode="json")
    summary = agg.summaries()[0]
    assert (summary.family, summary.scored, summary.errors) == ("custom", 2, 1)


def test_aggregator_counts_composite_members_and_severity_labels(registry: Registry) -> None:
    from evalcli.evaluators.composite import CompositeEvaluator
    from evalcli.evaluators.safety import HARMS_BY_NAME, ContentSafetyHarmEvaluator, harm_outputs

    class _Service:
        class client:  # noqa: N801  (what the evaluator reads of the service: its label)
            label = "cs"

    members = tuple(
        ContentSafetyHarmEvaluator(
            "cs",
            HARMS_BY_NAME[n],
            _Service(),
            threshold=3,
            defect_threshold=4,  # type: ignore[arg-type]
        )
        for n in ("violence", "sexual")
    )
    agg = Aggregator([CompositeEvaluator("cs", "content_safety", members)])
    partial = PartialOutcome()
    partial.update(harm_outputs("violence", 5, "r", 3))
    partial["sexual_error"] = "failed"
    partial.member_errors.append(("sexual", RowError("bad-input", "failed")))
    agg.add("cs", partial)
    agg.add("cs", {**harm_outputs("violence", 1, "r", 3), **harm_outputs("sexual", 0, "r", 3)})
    metrics = agg.metrics()
    assert metrics["cs.violence_defect_rate"] == 0.5 and metrics["cs.sexual_defect_rate"] == 0.0
    assert metrics["cs.error_count"] == 1 and (agg.total_errors, agg.total_pairs) == (1, 4)
    extra = agg.summaries()[0].extra
    assert extra["violence_distribution"] == {"Medium": 1, "Very low": 1}
    assert extra["sexual_distribution"] == {"Very low": 1}
