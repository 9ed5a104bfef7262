"""Risk and safety evaluators on both backends, against the loopback stub server.

The judge backend runs the real openai client against the stub's chat route; the Azure AI
Content Safety backend runs our REST client against the stub's Content Safety routes, which
check paths, api-versions, the key header, bodies and the documented input limits.
"""

from __future__ import annotations

import base64
import json
import struct
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from evalcli.cli import app
from evalcli.config import SafetyConfig
from evalcli.conversation import combine
from evalcli.errors import RemoteError, RowError
from evalcli.evaluators.safety import (
    HARMS_BY_NAME,
    IMAGES_NOTE,
    ContentSafetyHarmEvaluator,
    harm_outputs,
)
from evalcli.safety.client import ContentSafetyClient, SharedCalls
from evalcli.safety.images import image_parts
from evalcli.safety.operations import ContentSafety, split_text
from evalcli.safety.severity import defect_level, pass_level, severity_label
from evalcli.testing.stub_chat import last_user_text
from evalcli.testing.stub_server import (
    CHAT_ROUTES,
    CS_GROUNDEDNESS,
    CS_IMAGE_ANALYZE,
    CS_PROTECTED_MATERIAL,
    CS_TEXT_ANALYZE,
    Reply,
    StubRequest,
    StubServer,
    malformed,
    status,
)
from tests.conftest import MakeConfig
from tests.test_bad_input import assert_usage_error

KEY = "cs-test-secret-0123456789"
ALL_CATEGORIES = ["Hate", "SelfHarm", "Sexual", "Violence"]


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    monkeypatch.setenv("SAFETY_TEST_KEY", KEY)
    with StubServer(api_key=KEY) as srv:
        yield srv


def config(
    url: str,
    evaluators: str,
    *,
    backend: str = "judge",
    safety: str = "",
    columns: str = "",
) -> str:
    """A config with a judge and a safety section on the stub; evaluators indented by two."""
    return "\n".join(
        [
            "name: safety",
            "dataset: {path: data.jsonl}",
            "columns:",
            "  query: ${data.q}",
            "  response: ${data.a}",
            columns,
            "judge:",
            "  type: openai",
            f"  base_url: {url}/v1",
            "  model: judge",
            "  api_key: ${env:SAFETY_TEST_KEY}",
            "  max_retries: 1",
            "  timeout_s: 5",
            "safety:",
            f"  backend: {backend}",
            f"  endpoint: {url}",
            "  api_key: ${env:SAFETY_TEST_KEY}",
            "  max_retries: 2",
            "  timeout_s: 5",
            safety,
            "evaluators:",
            evaluators.rstrip("\n"),
            "run: {max_error_rate: 1.0}",
            "output: {dir: out}",
            "",
        ]
    )


def run(cli: CliRunner, cfg: Path, *args: str) -> Any:
    return cli.invoke(app, ["run", str(cfg), "-q", *args])


def results(tmp_path: Path) -> dict[str, Any]:
    return json.loads(
        (tmp_path / "out" / "results.json").read_text(),
        parse_constant=lambda c: pytest.fail(f"non-strict JSON: {c}"),
    )


def png(marker: str = "", size: int = 64) -> bytes:
    """Header-only PNG bytes the stub accepts; ``marker`` carries a STUB_SEVERITY directive."""
    return (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
        + struct.pack(">II", size, size)
        + b"\x08\x02\x00\x00\x00"
        + marker.encode()
    )


def data_url(raw: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(raw).decode()


def image(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


# -- the severity scale ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "label"),
    [
        (0, "Very low"),
        (1, "Very low"),
        (2, "Low"),
        (3, "Low"),
        (4, "Medium"),
        (5, "Medium"),
        (6, "High"),
        (7, "High"),
    ],
)
def test_severity_label_at_every_level(severity: int, label: str) -> None:
    assert severity_label(severity) == label
    out = harm_outputs("violence", severity, "why", 3.0)
    assert out["violence"] == label and out["violence_score"] == severity
    assert out["violence_result"] == ("pass" if severity <= 3 else "fail")
    assert out["violence_threshold"] == 3


@pytest.mark.parametrize("bad", [8, -1, 3.5, True, "4", None])
def test_bad_severity_has_no_label(bad: Any) -> None:
    with pytest.raises(ValueError):
        severity_label(bad)


def test_thresholds_given_as_labels() -> None:
    assert [defect_level(x) for x in ("Very low", "low", "MEDIUM", " high ", "very  LOW")] == [
        0,
        2,
        4,
        6,
        0,
    ]
    assert [pass_level(x) for x in ("Very low", "Low", "Medium", "High")] == [1, 3, 5, 7]
    assert defect_level(5) == 5 and pass_level(2.5) == 2.5 and defect_level(4.0) == 4
    for bad in ("Severe", 8, -1, True, 2.5):
        with pytest.raises(ValueError):
            defect_level(bad)


# -- judge backend ----------------------------------------------------------------------------


def severity_rows(scores: list[int]) -> list[dict[str, Any]]:
    return [
        {"q": f"Question {i}?", "a": f"Answer {i}. STUB_SCORE={s}"} for i, s in enumerate(scores)
    ]


def test_judge_backend_end_to_end(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    cfg = make_config(
        config(
            stub.url,
            "  violence: {threshold: Low, defect_threshold: Medium}\n"
            "  strict: {use: self_harm, threshold: 1, defect_threshold: 2}",
        ),
        severity_rows([0, 1, 2, 3, 4, 5, 6, 7]),
    )
    res = run(cli, cfg)
    assert res.exit_code == 0, res.stderr
    data = results(tmp_path)
    rows = data["rows"]
    assert [r["outputs.violence.violence_score"] for r in rows] == list(range(8))
    assert [r["outputs.violence.violence"] for r in rows] == [
        "Very low",
        "Very low",
        "Low",
        "Low",
        "Medium",
        "Medium",
        "High",
        "High",
    ]
    assert [r["outputs.violence.violence_result"] for r in rows] == ["pass"] * 4 + ["fail"] * 4
    assert rows[0]["outputs.violence.violence_threshold"] == 3
    assert rows[0]["outputs.violence.violence_reason"].startswith("stub judge")
    assert rows[0]["outputs.violence.violence_prompt_tokens"] > 0
    assert len(rows[0]["outputs.violence.violence_prompt_sha256"]) == 64
    m = data["metrics"]
    assert m["violence.violence_score"] == 3.5
    assert m["violence.violence_defect_rate"] == 0.5  # 4..7 of 0..7
    assert m["violence.pass_rate"] == 0.5
    assert m["strict.self_harm_defect_rate"] == 0.75  # 2..7
    assert m["strict.pass_rate"] == 0.25  # 0..1
    summary = next(s for s in data["summaries"] if s["alias"] == "violence")
    assert summary["extra"]["violence_distribution"] == {
        "Very low": 2,
        "Low": 2,
        "Medium": 2,
        "High": 2,
    }
    assert data["metric_info"]["violence.violence_defect_rate"]["direction"] == "lower"
    params = data["run"]["evaluators"]["violence"]["params"]
    assert params["backend"] == "judge" and params["defect_threshold"] == 4
    # The rubric went to the judge as the last user message, with the row's texts.
    asked = [last_user_text(r.body) for r in stub.requests if "Answer 3." in str(r.body)]
    assert len(asked) == 2 and all("<response>\nAnswer 3. STUB_SCORE=3" in t for t in asked)


def test_content_safety_composite_on_the_judge_and_console_table(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    cfg = make_config(
        config(stub.url, "  safety: {use: content_safety, threshold: {sexual: Very low}}"),
        severity_rows([1, 5]),
    )
    res = cli.invoke(app, ["run", str(cfg)])
    assert res.exit_code == 0, res.stderr
    data = results(tmp_path)
    row = data["rows"][1]
    for harm in ("violence", "sexual", "self_harm", "hate_unfairness"):
        assert row[f"outputs.safety.{harm}"] == "Medium"
        assert row[f"outputs.safety.{harm}_score"] == 5
        assert data["metrics"][f"safety.{harm}_defect_rate"] == 0.5
        assert data["metrics"][f"safety.{harm}_score"] == 3.0
    assert row["outputs.safety.sexual_threshold"] == 1
    assert data["rows"][0]["outputs.safety.sexual_result"] == "pass"
    assert data["metrics"]["safety.violence_pass_rate"] == 0.5
    assert stub.count(CHAT_ROUTES) == 8  # one judge call per harm and row
    # One table row per harm: mean severity, defect rate and the label distribution.
    out = res.stdout
    for harm in ("violence", "sexual", "self_harm", "hate_unfairness"):
        assert f"{harm}_score" in out
    assert "defect rate 50.0% · Very low 1, Low 0, Medium 1, High 0" in out


def test_judge_bad_severities_are_unscored_never_zero(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    def odd(req: StubRequest) -> Reply | None:
        text = last_user_text(req.body)
        if "FRACTION" in text:
            return Reply(content='{"score": 2.5, "reason": "halfway"}')
        if "PROSE" in text:
            return malformed()
        return None

    stub.add_responder(odd, route=CHAT_ROUTES)
    rows = [
        {"q": "q", "a": "STUB_SCORE=8"},
        {"q": "q", "a": "STUB_SCORE=-1"},
        {"q": "q", "a": "FRACTION"},
        {"q": "q", "a": "PROSE"},
        {"q": "q", "a": "STUB_SCORE=0"},
    ]
    cfg = make_config(config(stub.url, "  violence: {}"), rows)
    res = run(cli, cfg)
    assert res.exit_code == 0, res.stderr  # max_error_rate 1.0 in this config
    data = results(tmp_path)
    kinds = [r.get("outputs.violence.error_kind") for r in data["rows"]]
    assert kinds == [
        "judge-score-out-of-range",
        "judge-score-out-of-range",
        "judge-output-unparseable",
        "judge-output-unparseable",
        None,
    ]
    for r in data["rows"][:4]:
        assert "outputs.violence.violence_score" not in r
        assert "outputs.violence.violence_result" not in r
        assert r["outputs.violence.violence_raw_output"]
    m = data["metrics"]
    assert m["violence.violence_score"] == 0.0 and m["violence.error_count"] == 4
    assert m["violence.violence_defect_rate"] == 0.0 and m["violence.pass_rate"] == 1.0
    assert [e["line"] for e in data["errors"]] == [1, 2, 3, 4]


def test_label_evaluators_on_the_judge(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    rows = [
        {"q": "Summarise", "a": "Visit x.test STUB_LABEL=true", "c": "doc"},
        {"q": "Summarise", "a": "Fine. STUB_LABEL=false", "c": "doc"},
    ]
    cfg = make_config(
        config(
            stub.url,
            "  indirect_attack: {}\n  protected_material: {}\n  groundedness_pro: {}",
            columns="  context: ${data.c}",
        ),
        rows,
    )
    res = run(cli, cfg)
    assert res.exit_code == 0, res.stderr
    data = results(tmp_path)
    first = data["rows"][0]
    assert first["outputs.indirect_attack.indirect_attack_label"] is True
    assert first["outputs.indirect_attack.indirect_attack_details"] == {
        "manipulated_content": True,
        "intrusion": False,
        "information_gathering": False,
    }
    assert first["outputs.protected_material.protected_material_reason"].startswith("stub")
    m = data["metrics"]
    assert m["indirect_attack.indirect_attack_defect_rate"] == 0.5
    assert m["protected_material.protected_material_defect_rate"] == 0.5
    assert m["groundedness_pro.groundedness_pro_passing_rate"] == 0.5
    assert data["metric_info"]["groundedness_pro.groundedness_pro_passing_rate"]["direction"] == (
        "higher"
    )


# -- Content Safety backend ------------------------------------------------------------------


def test_content_safety_backend_end_to_end(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    rows = [
        {"q": "q1", "a": "A calm answer."},
        {"q": "q2", "a": "A story. STUB_SEVERITY=Violence:5,Hate:2"},
        {"q": "q3", "a": "Another one. STUB_SEVERITY=Sexual:7,SelfHarm:4"},
    ]
    cfg = make_config(
        config(
            stub.url,
            "  cs: {use: content_safety, defect_threshold: Medium}\n  violence: {threshold: Low}",
            backend="azure_content_safety",
        ),
        rows,
    )
    res = run(cli, cfg)
    assert res.exit_code == 0, res.stderr
    data = results(tmp_path)
    r = data["rows"]
    assert r[1]["outputs.cs.violence"] == "Medium" and r[1]["outputs.cs.violence_score"] == 5
    assert r[1]["outputs.cs.hate_unfairness"] == "Low"
    assert r[2]["outputs.cs.sexual"] == "High" and r[2]["outputs.cs.self_harm_score"] == 4
    assert r[1]["outputs.violence.violence_result"] == "fail"
    assert "text:analyze" in r[1]["outputs.cs.violence_reason"]
    assert "outputs.cs.violence_prompt_tokens" not in r[1]  # no tokens on this backend
    m = data["metrics"]
    assert m["cs.violence_defect_rate"] == pytest.approx(1 / 3)
    assert m["cs.sexual_score"] == pytest.approx(7 / 3)
    assert m["cs.hate_unfairness_defect_rate"] == 0.0
    summary = next(s for s in data["summaries"] if s["alias"] == "cs")
    assert summary["extra"]["sexual_distribution"] == {"Very low": 2, "High": 1}
    # Five harm evaluators, three rows, one text:analyze call per row.
    reqs = [q for q in stub.requests if q.route == CS_TEXT_ANALYZE]
    assert len(reqs) == 3 and stub.count() == 3
    q = reqs[0]
    assert q.path == "/contentsafety/text:analyze"
    assert q.query == {"api-version": "2024-09-01"}
    assert q.headers["ocp-apim-subscription-key"] == KEY
    assert "authorization" not in q.headers
    assert sorted(r.body["text"] for r in reqs) == sorted(x["a"] for x in rows)
    assert reqs[0].body["categories"] == ALL_CATEGORIES
    assert reqs[0].body["outputType"] == "EightSeverityLevels"
    usage = data["usage"]["clients"][f"content_safety azure_content_safety at {stub.url}"]
    assert usage["calls"] == 3 and usage["failed"] == 0
    assert data["run"]["evaluators"]["cs"]["params"]["violence"]["backend"] == (
        "azure_content_safety"
    )
    assert KEY not in res.stdout + res.stderr + json.dumps(data)


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (
            {"categoriesAnalysis": [{"category": c, "severity": 8} for c in ALL_CATEGORIES]},
            "content-safety-severity-out-of-range",
        ),
        (
            {"categoriesAnalysis": [{"category": c, "severity": -1} for c in ALL_CATEGORIES]},
            "content-safety-severity-out-of-range",
        ),
        (
            {"categoriesAnalysis": [{"category": c, "severity": "high"} for c in ALL_CATEGORIES]},
            "content-safety-bad-answer",
        ),
        (
            {"categoriesAnalysis": [{"category": "Hate", "severity": 0}]},
            "content-safety-bad-answer",
        ),
        ({"unexpected": True}, "content-safety-bad-answer"),
    ],
)
def test_content_safety_bad_severities_are_unscored(
    cli: CliRunner,
    make_config: MakeConfig,
    tmp_path: Path,
    stub: StubServer,
    answer: dict[str, Any],
    kind: str,
) -> None:
    stub.script(Reply(json=answer), route=CS_TEXT_ANALYZE, then=Reply(json=answer))
    cfg = make_config(
        config(stub.url, "  violence: {}", backend="azure_content_safety"),
        [{"q": "q", "a": "text"}],
    )
    res = run(cli, cfg)
    assert res.exit_code == 0, res.stderr
    row = results(tmp_path)["rows"][0]
    assert row["outputs.violence.error_kind"] == kind
    assert "outputs.violence.violence_score" not in row
    assert row["outputs.violence.content_safety_raw_output"]
    assert results(tmp_path)["metrics"]["violence.violence_score"] is None


def test_long_text_is_split_and_the_worst_part_counts(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    long = ("word " * 5_000) + "STUB_SEVERITY=Violence:6 " + ("more " * 400)
    cfg = make_config(
        config(stub.url, "  violence: {}", backend="azure_content_safety"),
        [{"q": "q", "a": long}],
    )
    # No cache: the first two parts are the same text, which the cache would ask about once.
    assert run(cli, cfg, "--no-cache").exit_code == 0
    row = results(tmp_path)["rows"][0]
    assert row["outputs.violence.violence_score"] == 6
    sent = [r.body["text"] for r in stub.requests]
    assert len(sent) == 3 and all(len(t) <= 10_000 for t in sent)
    assert "".join(sent) == long  # parts are consecutive and complete
    assert "3 parts of at most 10,000 characters" in row["outputs.violence.violence_reason"]


def test_split_text_keeps_words_whole() -> None:
    text = "alpha beta gamma delta " * 10
    parts = split_text(text, 25)
    assert "".join(parts) == text and all(len(p) <= 25 for p in parts)
    assert all(p.endswith(" ") for p in parts[:-1])
    assert split_text("x" * 30, 10) == ["x" * 10] * 3  # no space: cut at the limit


def test_protected_material_limits(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    long = ("lyric " * 2_000) + "STUB_PROTECTED " + ("lyric " * 100)
    rows = [
        {"q": "q", "a": "Too short to matter."},
        {"q": "q", "a": "x" * 110},
        {"q": "q", "a": long},
    ]
    cfg = make_config(
        config(stub.url, "  pm: {use: protected_material}", backend="azure_content_safety"), rows
    )
    assert run(cli, cfg).exit_code == 0
    data = results(tmp_path)
    short, exact, chunked = data["rows"]
    assert short["outputs.pm.protected_material_label"] is False
    assert "at least 110" in short["outputs.pm.protected_material_reason"]
    assert exact["outputs.pm.protected_material_label"] is False
    assert chunked["outputs.pm.protected_material_label"] is True
    assert "2 parts" in chunked["outputs.pm.protected_material_reason"]
    sent = [r for r in stub.requests if r.route == CS_PROTECTED_MATERIAL]
    assert len(sent) == 3  # none for the short text, 1 + 2 parts
    assert all(110 <= len(r.body["text"]) <= 10_000 for r in sent)
    assert {"text": "x" * 110} in [r.body for r in sent]  # rows run concurrently: any order
    assert {r.query["api-version"] for r in sent} == {"2024-09-01"}
    assert data["metrics"]["pm.protected_material_defect_rate"] == pytest.approx(1 / 3)


def test_groundedness_pro_on_content_safety(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    rows = [
        {"q": "When did it open?", "a": "It opened in 1974.", "c": "The bridge opened in 1974."},
        {"q": "When did it open?", "a": "In 1980. STUB_UNGROUNDED", "c": "It opened in 1974."},
        {"q": "Why?", "a": "Because.", "c": "x" * 60_000},
        {"q": "How long is it?", "a": "Long. " * 1_500, "c": ["Doc one.", "Doc two."]},
    ]
    cfg = make_config(
        config(
            stub.url,
            "  gp: {use: groundedness_pro}",
            backend="azure_content_safety",
            columns="  context: ${data.c}",
        ),
        rows,
    )
    assert run(cli, cfg).exit_code == 0
    data = results(tmp_path)
    labels = [r["outputs.gp.groundedness_pro_label"] for r in data["rows"]]
    assert labels == [True, False, True, True]
    reasons = [r["outputs.gp.groundedness_pro_reason"] for r in data["rows"]]
    assert "ungrounded content (100% of the response)" in reasons[1]
    assert "Summarization" in reasons[2] and "truncated to its first 55,000" in reasons[2]
    assert "split into 2 parts" in reasons[3]
    assert data["metrics"]["gp.groundedness_pro_passing_rate"] == 0.75
    sent = [r for r in stub.requests if r.route == CS_GROUNDEDNESS]
    first = next(r for r in sent if r.body["text"] == "It opened in 1974.")
    assert first.path == "/contentsafety/text:detectGroundedness"
    assert first.query == {"api-version": "2024-09-15-preview"}
    assert first.body == {
        "domain": "Generic",
        "task": "QnA",
        "qna": {"query": "When did it open?"},
        "text": "It opened in 1974.",
        "groundingSources": ["The bridge opened in 1974."],
        "reasoning": False,
    }
    third = next(r for r in sent if r.body["text"] == "Because.")
    assert third.body["task"] == "Summarization" and "qna" not in third.body
    assert len(third.body["groundingSources"][0]) == 55_000
    assert sum(1 for r in sent if r.body["groundingSources"] == ["Doc one.", "Doc two."]) == 2


def test_retry_after_then_success_and_fatal_401(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    stub.script(status(429, retry_after=0.01), route=CS_TEXT_ANALYZE)
    cfg = make_config(
        config(stub.url, "  violence: {}", backend="azure_content_safety"),
        [{"q": "q", "a": "one"}, {"q": "q", "a": "two"}],
    )
    assert run(cli, cfg).exit_code == 0
    data = results(tmp_path)
    assert [r["outputs.violence.violence_score"] for r in data["rows"]] == [0, 0]
    assert data["usage"]["total"]["retries"] == 2

    stub.clear_responders()
    stub.script(status(401), route=CS_TEXT_ANALYZE, then=status(401))
    res = run(cli, cfg, "--no-cache")  # cached answers would never meet the 401
    assert res.exit_code == 3
    assert "authentication/authorisation failed" in res.stderr
    assert results(tmp_path)["status"] == "run_error"
    assert KEY not in res.stderr


def test_row_input_refusals_are_row_errors_but_a_dead_endpoint_stops_the_run(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    # The service refuses a 10x10 image (400 InvalidRequestBody): about that row only, so
    # even when every early call fails this way the run goes on.
    tiny = [image(data_url(png(size=10)))]
    rows = [{"q": "q", "a": " " * i, "imgs": tiny} for i in range(4)]  # blank: images only
    text = config(
        stub.url, "  violence: {}", backend="azure_content_safety", columns="  images: ${data.imgs}"
    )
    res = run(cli, make_config(text, rows))
    assert res.exit_code == 0, res.stderr
    data = results(tmp_path)
    assert data["status"] == "completed"
    assert {r["outputs.violence.error_kind"] for r in data["rows"]} == {"content-safety-http-400"}
    assert "dimensions must be between" in data["rows"][0]["outputs.violence.error"]
    assert stub.count(CS_TEXT_ANALYZE) == 0 and 1 <= stub.count(CS_IMAGE_ANALYZE) <= 4

    # An endpoint nobody listens on: the first calls all fail, the run stops with exit 3.
    port = stub.port
    stub.stop()
    dead = make_config(
        text.replace("max_retries: 2", "max_retries: 0"),
        [{"q": "q", "a": f"text {i}", "imgs": []} for i in range(4)],
    )
    res = run(cli, dead)
    assert res.exit_code == 3
    assert f"content_safety azure_content_safety at http://127.0.0.1:{port}" in res.stderr
    assert "the first 3 calls all failed" in res.stderr


# -- images -----------------------------------------------------------------------------------


def test_images_go_to_the_judge_as_vision_parts(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    url = data_url(png())
    rows = [{"q": "q", "a": "STUB_SCORE=2", "imgs": [image("https://img.test/a.png"), image(url)]}]
    cfg = make_config(config(stub.url, "  violence: {}", columns="  images: ${data.imgs}"), rows)
    assert run(cli, cfg).exit_code == 0
    assert results(tmp_path)["rows"][0]["outputs.violence.violence_score"] == 2
    content = stub.requests[0].body["messages"][-1]["content"]
    assert content[0]["type"] == "text" and "STUB_SCORE=2" in content[0]["text"]
    assert content[1] == {"type": "text", "text": IMAGES_NOTE}
    assert content[2:] == [image("https://img.test/a.png"), image(url)]


def test_images_on_content_safety_use_image_analyze(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer
) -> None:
    raw = png("STUB_SEVERITY=Violence:4")
    rows = [
        {"q": "q", "a": "Calm text. STUB_SEVERITY=Violence:1", "imgs": [image(data_url(raw))]},
        {"q": "q", "a": "text", "imgs": [image(data_url(png())), image("https://img.test/b.png")]},
        {"q": "q", "a": "text", "imgs": [image("ftp://img.test/c.png")]},
        {
            "q": "q",
            "a": "text",
            "imgs": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}],
        },
    ]
    cfg = make_config(
        config(
            stub.url,
            "  violence: {}\n  sexual: {}",
            backend="azure_content_safety",
            columns="  images: ${data.imgs}",
        ),
        rows,
    )
    assert run(cli, cfg).exit_code == 0
    data = results(tmp_path)
    ok, https, ftp, broken = data["rows"]
    assert ok["outputs.violence.violence_score"] == 4  # max of text (1) and image (4)
    assert "image:analyze" in ok["outputs.violence.violence_reason"]
    assert ok["outputs.sexual.sexual_score"] == 0
    assert https["outputs.violence.error_kind"] == "bad-image"
    assert "row 2: image part images[1] is an https URL" in https["outputs.violence.error"]
    assert "row 3: image part images[0]" in ftp["outputs.violence.error"]
    assert "neither an https URL nor a base64 data URL" in ftp["outputs.violence.error"]
    assert "not valid base64" in broken["outputs.violence.error"]
    calls = [r for r in stub.requests if r.route == CS_IMAGE_ANALYZE]
    # Row 1's image once, shared by both harms; bad parts fail their rows before any call.
    assert len(calls) == 1 and stub.count(CS_TEXT_ANALYZE) == 1
    encoded = base64.b64encode(raw).decode()
    assert next(c.body for c in calls if c.body["image"]["content"] == encoded) == {
        "image": {"content": encoded},
        "categories": ALL_CATEGORIES,
        "outputType": "FourSeverityLevels",
    }
    assert {c.query["api-version"] for c in calls} == {"2024-09-01"}


def test_bad_image_parts_on_the_judge_are_row_errors() -> None:
    with pytest.raises(RowError, match=r"row 7: image part images\[1\] is not an image part"):
        image_parts([image("https://x.test/a.png"), {"type": "text", "text": "hi"}], 7)
    with pytest.raises(RowError, match="must be a list"):
        image_parts("https://x.test/a.png", 7)
    with pytest.raises(RowError, match="no image data"):
        image_parts([image("data:image/png;base64,")], 7)
    parts = image_parts(image(data_url(png())), 7)  # a single part is accepted too
    assert parts[0].kind == "data" and parts[0].size == len(png())


# -- shared calls, Entra ID, turns ---------------------------------------------------------------


def test_shared_calls_run_once_and_forget_failures() -> None:
    shared = SharedCalls(capacity=2)
    calls = []
    gate = threading.Event()

    def slow() -> int:
        calls.append(1)
        gate.wait(2)
        return 42

    results_: list[int] = []
    threads = [
        threading.Thread(target=lambda: results_.append(shared.get("k", slow))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    time.sleep(0.05)
    gate.set()
    for t in threads:
        t.join(2)
    assert results_ == [42] * 4 and len(calls) == 1

    def failing() -> int:
        calls.append(1)
        raise RowError("x", "boom")

    for _ in range(2):
        with pytest.raises(RowError, match="boom"):
            shared.get("bad", failing)
    assert len(calls) == 3  # the failure was not kept
    for key in ("a", "b", "c"):
        shared.get(key, lambda: 0)
    assert len(shared._entries) == 2  # bounded


def test_entra_token_instead_of_key() -> None:
    with StubServer(api_key=KEY, bearer_tokens={"entra-token"}) as srv:
        cfg = SafetyConfig(backend="azure_content_safety", endpoint=srv.url + "/")
        client = ContentSafetyClient(cfg, token_provider=lambda: "entra-token")
        try:
            ops = ContentSafety(
                client, api_version="2024-09-01", groundedness_api_version="2024-09-15-preview"
            )
            assert ops.text_severities("hello STUB_SEVERITY=Hate:3").severities["Hate"] == 3
        finally:
            client.close()
        req = srv.requests[0]
        assert req.headers["authorization"] == "Bearer entra-token"
        assert "ocp-apim-subscription-key" not in req.headers

        client = ContentSafetyClient(cfg, token_provider=lambda: "wrong")
        try:
            with pytest.raises(RemoteError, match="authentication"):
                client.post("text:analyze", {"text": "x"}, api_version="2024-09-01")
        finally:
            client.close()


def test_conversation_turns_combine_to_the_worst() -> None:
    ev = ContentSafetyHarmEvaluator(
        "v",
        HARMS_BY_NAME["violence"],
        SimpleNamespace(client=SimpleNamespace(label="cs")),  # type: ignore[arg-type]
        threshold=3,
        defect_threshold=4,
    )
    turns = [harm_outputs("violence", s, f"turn {i}", 3) for i, s in enumerate([1, 5, 2, 5])]
    # Without `aggregation:` the core combines turns the evaluator's way: the worst (max)
    # severity, where the default would average them (3.25).
    assert combine(ev, turns, None)["violence_score"] == 5
    combined = ev.combine_turns(turns)
    assert combined["violence_score"] == 5 and combined["violence_reason"] == "turn 3"
    assert combined["violence"] == "Medium" and combined["violence_result"] == "fail"


# -- bad input (exit 2 before any call) ---------------------------------------------------


@pytest.mark.parametrize(
    ("evaluators", "safety", "needles"),
    [
        (
            "  cs: {use: content_safety, params: {harms: [violence, violense]}}",
            "",
            ["eval.yaml:", "unknown harm 'violense'", "did you mean 'violence'"],
        ),
        ("  violence: {defect_threshold: Severe}", "", ["defect_threshold", "'Severe'"]),
        ("  violence: {defect_threshold: 9}", "", ["defect_threshold", "0-7"]),
        ("  violence: {threshold: 8}", "", ["threshold must be a severity 0-7"]),
        ("  violence: {}", "  defect_threshold: extreme", ["safety.defect_threshold"]),
        (
            "  pa: {use: prompt_attack, backend: azure_content_safety, prompt: x.prompty}",
            "",
            ["evaluators.pa.prompt applies to backend judge only"],
        ),
        ("  pa: {use: prompt_attack, threshold: 1}", "", ["has no threshold"]),
        ("  relevance: {threshold: Low}", "", ["severity labels apply only to"]),
        ("  bleu: {defect_threshold: Medium}", "", ["defect_threshold applies only to"]),
        ("  pm: {use: protected_material, threshold: 2}", "", ["has no threshold"]),
    ],
)
def test_bad_safety_input_is_exit_2(
    cli: CliRunner,
    make_config: MakeConfig,
    stub: StubServer,
    evaluators: str,
    safety: str,
    needles: list[str],
) -> None:
    cfg = make_config(config(stub.url, evaluators, safety=safety), [{"q": "q", "a": "a"}])
    assert_usage_error(cli, cfg, *needles)
    assert stub.count() == 0


def test_content_safety_without_endpoint_or_key_is_exit_2(
    cli: CliRunner, make_config: MakeConfig, stub: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = config(stub.url, "  violence: {backend: azure_content_safety}")
    no_endpoint = make_config(text.replace(f"  endpoint: {stub.url}\n", ""), [{"q": "q", "a": "a"}])
    assert_usage_error(cli, no_endpoint, "eval.yaml:", "needs safety.endpoint")
    monkeypatch.setitem(sys.modules, "azure.identity", None)  # no azure-identity for Entra ID
    no_key = make_config(
        text.replace("  api_key: ${env:SAFETY_TEST_KEY}\n  max_retries: 2", "  max_retries: 2")
    )
    assert_usage_error(cli, no_key, "without safety.api_key", "azure-identity")
    assert stub.count() == 0


def test_list_evaluators_shows_safety(cli: CliRunner) -> None:
    res = cli.invoke(app, ["list-evaluators"])
    assert res.exit_code == 0
    for name in ("violence", "content_safety", "indirect_attack", "groundedness_pro"):
        assert name in res.stdout
