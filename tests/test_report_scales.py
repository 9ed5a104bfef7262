"""Charts follow each evaluator's declared output range, recorded in results.json as
``metric_info.<metric>.scale`` beside ``threshold_key`` and ``subject``; never the metric's
name. Real runs: a prompt evaluator against the loopback stub judge, and a plugin-style
evaluator declared through :mod:`evalcli.plugin` and added to a registry."""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evalcli.api import run
from evalcli.cli import app
from evalcli.config import load_config
from evalcli.evaluators.builtins import register as register_builtins
from evalcli.plan import PlanOptions, build_plan
from evalcli.plugin import (
    BuildContext,
    EvalContext,
    Evaluator,
    EvaluatorInfo,
    EvaluatorParams,
    Family,
    InputSpec,
    OutputField,
    Outputs,
    Registry,
    Role,
)
from evalcli.report import render_report
from evalcli.testing.stub_server import StubServer
from tests.conftest import MakeConfig
from tests.reportdata import charts

KEY = "sk-test-scales-0123456789"
PROMPTS = Path(__file__).resolve().parent / "fixtures" / "prompts"
TEN_BINS = ["0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"]


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    with StubServer(api_key=KEY, models={"gpt-4o"}) as srv:
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", srv.url)
        yield srv


JUDGED = """
    judge:
      type: azure_openai
      endpoint: ${env:AZURE_OPENAI_ENDPOINT}
      deployment: gpt-4o
      api_key: ${env:AZURE_OPENAI_API_KEY}
    dataset: {path: data.jsonl}
    columns: {response: ${data.answer}, ground_truth: ${data.truth}}
    evaluators:
      zq_vibe:                       # a name that looks like no known metric
        use: prompt
        prompt: vibe.prompty
        params: {min: 0, max: 10}
        threshold: 6
      f1_score: {}
    output: {dir: out}
"""


def test_a_prompt_evaluator_gets_its_declared_scale(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    shutil.copy(PROMPTS / "friendliness.prompty", tmp_path / "vibe.prompty")
    scores = [2, 3, 3, 7]
    cfg = make_config(
        JUDGED,
        [
            {"answer": f"Reply {i}. STUB_SCORE={s}", "truth": f"Reply {i}"}
            for i, s in enumerate(scores)
        ],
    )
    res = cli.invoke(app, ["run", str(cfg), "-q", "--no-cache"])
    assert res.exit_code == 0, res.stderr
    out = tmp_path / "out"
    info = json.loads((out / "results.json").read_text("utf-8"))["metric_info"]

    # results.json carries what the report needs, from the declarations.
    assert info["zq_vibe.zq_vibe"] | {"corpus": None} == {
        "evaluator": "zq_vibe",
        "kind": "mean",
        "direction": "higher",
        "source_key": "zq_vibe",
        "defect_threshold": None,
        "subject": "zq_vibe",
        "threshold_key": "zq_vibe_threshold",
        "scale": {"min": 0.0, "max": 10.0, "integer": True},
        "corpus": None,
    }
    assert info["zq_vibe.pass_rate"]["threshold_key"] == "zq_vibe_threshold"
    assert "scale" not in info["zq_vibe.pass_rate"]  # a rate has no scale of its own
    assert info["f1_score.f1_score"]["scale"] == {"min": 0.0, "max": 1.0, "integer": False}
    assert info["f1_score.f1_score"]["threshold_key"] == "f1_score_threshold"
    assert info["zq_vibe.error_count"]["subject"] is None
    assert info["zq_vibe.error_count"]["threshold_key"] is None

    # One bar per value of the declared 0-10 scale (not just the 2-7 the judge answered),
    # the threshold line at 6, and the passing bars toned as such.
    found, markers = charts((out / "report.html").read_text("utf-8"))
    bars = found[("dist", "zq_vibe.zq_vibe")]
    assert [(label, n) for label, n, _ in bars] == [
        (str(v), {2: 1, 3: 2, 7: 1}.get(v, 0)) for v in range(11)
    ]
    assert markers["zq_vibe.zq_vibe"] == ["threshold", "mean"]
    assert ["tone-ok" in cls for _, _, cls in bars] == [v >= 6 for v in range(11)]
    # f1 is declared 0-1 and continuous: ten bins, whatever values came.
    assert [label for label, _, _ in found[("dist", "f1_score.f1_score")]] == TEN_BINS


# -- a plugin evaluator whose key reads like a safety metric ----------------------------------


class _Probe(Evaluator):
    """Scores 1 when the response mentions a fight, else 0 (a 0-1 score, not a severity)."""

    def __init__(self, alias: str) -> None:
        super().__init__(alias, "harm_probe", (InputSpec("response"),), PROBE_FIELDS)

    def evaluate(self, inputs: dict[str, Any], ctx: EvalContext) -> Outputs:
        score = 1 if "fight" in inputs["response"] else 0
        return {
            "violence_score": score,
            "violence_result": "pass" if score <= 0.5 else "fail",
            "violence_threshold": 0.5,
        }


PROBE_FIELDS = (
    OutputField(
        "violence_score",
        Role.SCORE,
        stem="violence",
        higher_is_better=False,
        range=(0.0, 1.0),
        default_threshold=0.5,
    ),
    OutputField("violence_result", Role.RESULT, stem="violence", primary=True),
    OutputField("violence_threshold", Role.THRESHOLD, stem="violence"),
)


def _build_probe(alias: str, params: EvaluatorParams, ctx: BuildContext) -> Evaluator:
    return _Probe(alias)


PROBE = EvaluatorInfo(
    "harm_probe",
    Family.CUSTOM,
    "0-1 probe with safety-like key names",
    (InputSpec("response"),),
    PROBE_FIELDS,
    _build_probe,
)


def test_a_plugin_metric_named_like_a_harm_but_declared_0_1_gets_a_histogram(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    registry = Registry()
    registry.run_hook(register_builtins, source="builtin")
    registry.add(PROBE)
    texts = ["a fight", "calm", "calm", "another fight", "calm"]
    cfg = make_config(
        textwrap.dedent(
            """
            dataset: {path: data.jsonl}
            evaluators:
              violence: {use: harm_probe}
            output: {dir: out}
            """
        ),
        [{"response": t} for t in texts],
    )
    plan = build_plan(load_config(cfg), PlanOptions(workers=0), registry=registry)
    result = run(plan)
    assert result.exit_code == 0, result.message
    info = result.metric_info["violence.violence_score"]
    assert info.scale is not None and (info.scale.min, info.scale.max) == (0.0, 1.0)
    assert not info.scale.integer and info.subject == "violence"

    html = render_report(tmp_path / "out")
    found, markers = charts(html)
    bars = found[("dist", "violence.violence_score")]
    # Every value is 0 or 1, yet the declared continuous 0-1 scale gives ten bins: no bar
    # per value as a severity or a 1-5 grade would get, no severity labels, no defect line.
    assert [(label, n) for label, n, _ in bars] == [
        (label, {"0": 3, "0.9": 2}.get(label, 0)) for label in TEN_BINS
    ]
    assert markers["violence.violence_score"] == ["threshold", "mean"]
    assert not any(kind == "shares" for kind, _ in found)
    assert "severity labels" not in html


# -- the declarations behind the scales -------------------------------------------------------


def _scale_of(fields: tuple[OutputField, ...], key: str) -> tuple[Any, bool]:
    field = next(f for f in fields if f.key == key)
    return field.range, field.integer


@pytest.mark.parametrize(
    ("name", "key", "scale"),
    [
        ("relevance", "relevance", ((1.0, 5.0), True)),  # judge grades
        ("tool_call_accuracy", "tool_call_accuracy", ((1.0, 5.0), True)),
        ("violence", "violence_score", ((0, 7), True)),  # severities
        ("f1_score", "f1_score", ((0.0, 1.0), False)),
        ("bleu", "bleu", ((0.0, 1.0), False)),
        ("gleu", "gleu", ((0.0, 1.0), False)),
        ("meteor", "meteor", ((0.0, 1.0), False)),
        ("rouge", "rouge_recall", ((0.0, 1.0), False)),
        ("chrf", "chrf", ((0.0, 100.0), False)),
        ("ter", "ter", (None, False)),  # an edit rate has no top
        ("document_retrieval", "ndcg@3", ((0.0, 1.0), False)),
        ("document_retrieval", "xdcg@3", ((0.0, 100.0), False)),  # labels 0-4
        ("document_retrieval", "top1_relevance", ((0.0, 4.0), True)),
        ("document_retrieval", "holes", (None, True)),  # a count
    ],
)
def test_builtins_declare_their_scales(name: str, key: str, scale: tuple[Any, bool]) -> None:
    registry = Registry()
    registry.run_hook(register_builtins, source="builtin")
    assert _scale_of(registry.require(name).outputs, key) == scale


def test_retrieval_label_metrics_follow_the_configured_label_range() -> None:
    from evalcli.evaluators.retrieval import DocumentRetrievalEvaluator
    from evalcli.metrics.retrieval import DocumentRetrievalParams

    params = DocumentRetrievalParams(ground_truth_label_min=1, ground_truth_label_max=10)
    fields = DocumentRetrievalEvaluator("r", params).outputs
    # An unlabelled document counts as label 0, so 0 stays on the scale.
    assert _scale_of(fields, "top3_max_relevance") == ((0.0, 10.0), True)
    assert _scale_of(fields, "xdcg@3") == ((0.0, 250.0), False)
