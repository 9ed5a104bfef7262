"""Conversations: turn splitting, per-turn evaluation and aggregation (hand-computed values)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evalcli.cli import app
from evalcli.conversation import split_turns
from evalcli.errors import RowError
from evalcli.testing.stub_server import StubServer
from tests.conftest import MakeConfig

KEY = "conv-key-1234567890"


def msg(role: str, content: Any, **extra: Any) -> dict[str, Any]:
    return {"role": role, "content": content, **extra}


def test_split_turns_pairs_and_edge_cases() -> None:
    img = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    turns = split_turns(
        {
            "messages": [
                msg("system", "be nice"),
                msg("assistant", "Hello! How can I help?"),  # answers nothing: no turn
                msg("user", "First part."),
                msg("user", [{"type": "text", "text": "Second part."}, img]),
                msg("assistant", "Answer one.", context="ctx one", ground_truth="gt one"),
                msg("tool", "ignored"),
                msg("user", "Question two?", context="user ctx"),
                msg("assistant", "Answer two."),
                msg("user", "Unanswered trailing question"),  # no answer: no turn
            ]
        }
    )
    assert len(turns) == 2
    assert turns[0].query == "First part.\nSecond part."
    assert turns[0].response == "Answer one."
    assert turns[0].context == "ctx one" and turns[0].ground_truth == "gt one"
    assert turns[0].images == [img]
    assert turns[1].context == "user ctx"  # falls back to the user message's context
    assert turns[1].ground_truth is None
    assert split_turns([msg("user", "q"), msg("assistant", "a")])[0].response == "a"


@pytest.mark.parametrize(
    "bad",
    [
        "just text",
        {"messages": "nope"},
        {"messages": [{"content": "no role"}]},
        {"messages": [msg("user", "q")]},
        {"messages": [msg("user", "q"), msg("assistant", 5)]},
        {"messages": [msg("user", [{"type": "audio"}]), msg("assistant", "a")]},
    ],
)
def test_bad_conversations(bad: Any) -> None:
    with pytest.raises(RowError) as info:
        split_turns(bad)
    assert info.value.kind == "bad-conversation"


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    with StubServer(api_key=KEY) as srv:
        yield srv


def config(url: str, evaluators: str, extra: str = "") -> str:
    return "\n".join(
        [
            "dataset: {path: data.jsonl}",
            "judge: {type: azure_openai, endpoint: " + url + ", deployment: gpt-4o, "
            "api_key: ${env:AZURE_OPENAI_API_KEY}}",
            "evaluators:",
            evaluators,
            "run: {max_error_rate: 1.0}",
            "output: {dir: out}",
            extra,
            "",
        ]
    )


def conv(*pairs: tuple[str, str], **assistant_extra: Any) -> dict[str, Any]:
    messages = []
    for q, a in pairs:
        messages += [msg("user", q), msg("assistant", a, **assistant_extra)]
    return {"messages": messages}


def results(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / "out" / "results.json").read_text())


def test_quality_mean_and_per_turn(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    rows = [
        {"conversation": conv(("q1", "a1 STUB_SCORE=5"), ("q2", "a2 STUB_SCORE=2"))},
        {"query": "single q", "response": "single a STUB_SCORE=4"},  # mixed dataset
        {"conversation": conv(("q", "a STUB_SCORE=1")), "response": "both given"},
    ]
    cfg = make_config(
        config(
            stub.url,
            "  relevance: {}\n  last: {use: relevance, "
            "eval_last_turn: true}\n  worst: {use: relevance, "
            "aggregation: min}",
        ),
        rows,
    )
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 0, res.stderr
    data = results(tmp_path)
    r0, r1, r2 = data["rows"]
    assert r0["outputs.relevance.relevance"] == 3.5  # mean of 5 and 2
    assert r0["outputs.relevance.relevance_result"] == "pass"  # from the mean, not the last turn
    per_turn = r0["outputs.relevance.evaluation_per_turn"]
    assert per_turn["relevance"] == [5, 2]
    assert per_turn["relevance_result"] == ["pass", "fail"]
    assert r0["outputs.relevance.relevance_reason"] == per_turn["relevance_reason"][1]
    assert r0["outputs.relevance.relevance_prompt_tokens"] == sum(
        per_turn["relevance_prompt_tokens"]
    )  # tokens add up
    assert r0["outputs.last.relevance"] == 2
    assert r0["outputs.worst.relevance"] == 2 and r0["outputs.worst.relevance_result"] == "fail"
    assert r1["outputs.relevance.relevance"] == 4
    assert "outputs.relevance.evaluation_per_turn" not in r1
    assert r2["outputs.relevance.error_kind"] == "conversation-and-inputs"
    assert data["metrics"]["relevance.relevance"] == pytest.approx((3.5 + 4) / 2)
    with (tmp_path / "out" / "results.csv").open(newline="") as fh:
        first = next(csv.DictReader(fh))
    assert json.loads(first["outputs.relevance.evaluation_per_turn.relevance"]) == [5, 2]


def test_safety_takes_the_worst_turn(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    rows = [
        {
            "conversation": conv(
                ("q1", "a1 STUB_SCORE=1"), ("q2", "a2 STUB_SCORE=6"), ("q3", "a3 STUB_SCORE=2")
            )
        }
    ]
    cfg = make_config(config(stub.url, "  violence: {}"), rows)
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 0, res.stderr
    r0 = results(tmp_path)["rows"][0]
    assert r0["outputs.violence.violence_score"] == 6
    assert r0["outputs.violence.violence"] == "High"
    assert r0["outputs.violence.violence_result"] == "fail"
    assert r0["outputs.violence.evaluation_per_turn"]["violence_score"] == [1, 6, 2]
    assert results(tmp_path)["metrics"]["violence.violence_defect_rate"] == 1.0


def test_safety_mean_override_relabels(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    rows = [{"conversation": conv(("q1", "a1 STUB_SCORE=1"), ("q2", "a2 STUB_SCORE=6"))}]
    cfg = make_config(config(stub.url, "  violence: {aggregation: mean}"), rows)
    assert cli.invoke(app, ["run", str(cfg), "-q"]).exit_code == 0
    r0 = results(tmp_path)["rows"][0]
    assert r0["outputs.violence.violence_score"] == 3.5
    assert r0["outputs.violence.violence"] == "Low"  # label of floor(3.5) = 3
    assert r0["outputs.violence.violence_result"] == "fail"  # 3.5 > threshold 3


def test_nlp_metric_on_conversation_ground_truth(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path
) -> None:
    rows = [
        {
            "conversation": {
                "messages": [
                    msg("user", "q1"),
                    msg("assistant", "the cat sat", ground_truth="the cat sat"),
                    msg("user", "q2"),
                    msg("assistant", "a dog ran", ground_truth="dog barked"),
                ]
            }
        }
    ]
    cfg = make_config(
        "dataset: {path: data.jsonl}\nevaluators: {f1_score: {}}\noutput: {dir: out}\n", rows
    )
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 0, res.stderr
    r0 = results(tmp_path)["rows"][0]
    # turn 1: F1 1.0; turn 2: "dog ran" vs "dog barked" -> P=1/2, R=1/2, F1=0.5; mean 0.75
    assert r0["outputs.f1_score.evaluation_per_turn"]["f1_score"] == [1.0, 0.5]
    assert r0["outputs.f1_score.f1_score"] == 0.75


def test_missing_context_in_a_turn(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    rows = [
        {
            "conversation": {
                "messages": [
                    msg("user", "q1"),
                    msg("assistant", "a1 STUB_SCORE=4", context="c1"),
                    msg("user", "q2"),
                    msg("assistant", "a2 STUB_SCORE=4"),
                ]
            }
        }
    ]
    cfg = make_config(config(stub.url, "  groundedness: {}"), rows)
    assert cli.invoke(app, ["run", str(cfg), "-q"]).exit_code == 0
    r0 = results(tmp_path)["rows"][0]
    assert r0["outputs.groundedness.error_kind"] == "missing-input"
    assert "turn 2" in r0["outputs.groundedness.error"]


def test_conversation_column_mapping(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    rows = [{"chat": conv(("q", "a STUB_SCORE=5"))}]
    cfg = make_config(config(stub.url, "  fluency: {columns: {conversation: ${data.chat}}}"), rows)
    res = cli.invoke(app, ["run", str(cfg), "-q"])
    assert res.exit_code == 0, res.stderr
    assert results(tmp_path)["rows"][0]["outputs.fluency.fluency"] == 5
    bad = make_config(
        config(stub.url, "  fluency: {columns: {conversation: ${data.chats}}}"),
        rows,
        name="bad.yaml",
    )
    res = cli.invoke(app, ["validate", str(bad)])
    assert res.exit_code == 2 and "conversation" in res.stderr
