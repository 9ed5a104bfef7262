"""Judge evaluators against a real loopback server speaking the OpenAI / Azure OpenAI protocols.

The real `openai` client runs (URLs, headers, timeouts); only the server is ours.
"""

from __future__ import annotations

import json
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evalcli.cli import app
from evalcli.testing.stub_server import (
    AZURE_CHAT,
    OPENAI_CHAT,
    Reply,
    StubRequest,
    StubServer,
    drop,
    faults,
    malformed,
    stall,
    status,
)
from tests.conftest import MakeConfig

KEY = "sk-test-secret-0123456789"


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer(api_key=KEY, models={"gpt-4o", "judge-b", "llama3.1"}) as srv:
        yield srv


def rows_with_scores(scores: list[int]) -> list[dict[str, Any]]:
    """Rows whose response carries a STUB_SCORE directive, so the stub judge answers it."""
    return [
        {
            "id": i + 1,
            "question": f"Question {i + 1}?",
            "answer": f"Answer {i + 1}. STUB_SCORE={s}",
            "truth": f"Answer {i + 1}.",
        }
        for i, s in enumerate(scores)
    ]


def azure_config(url: str, evaluators: str, extra: str = "") -> str:
    """A config judged by the stub's Azure route; ``evaluators`` are indented by two."""
    return "\n".join(
        [
            "name: judged",
            "dataset: {path: data.jsonl}",
            "columns:",
            "  query: ${data.question}",
            "  response: ${data.answer}",
            "  ground_truth: ${data.truth}",
            "judge:",
            "  type: azure_openai",
            f"  endpoint: {url}",
            "  deployment: gpt-4o",
            "  api_key: ${env:AZURE_OPENAI_API_KEY}",
            "  max_retries: 3",
            "  timeout_s: 5",
            "evaluators:",
            evaluators.rstrip("\n"),
            "output: {dir: out}",
            extra,
            "",
        ]
    )


def results(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / "out" / "results.json").read_text())


def invoke(cli: CliRunner, cfg: Path, *args: str) -> Any:
    return cli.invoke(app, ["run", str(cfg), "-q", *args])


@pytest.fixture
def env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


def test_azure_judge_scores_and_wire_format(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer, env_key: None
) -> None:
    scores = [5, 4, 3, 2, 1]
    cfg = make_config(
        azure_config(stub.url, "  relevance: {}\n  fluency: {threshold: 4}"),
        rows_with_scores(scores),
    )
    res = invoke(cli, cfg)
    assert res.exit_code == 0, res.stderr
    data = results(tmp_path)
    rows = data["rows"]
    assert [r["outputs.relevance.relevance"] for r in rows] == scores
    assert [r["outputs.relevance.relevance_result"] for r in rows] == [
        "pass",
        "pass",
        "pass",
        "fail",
        "fail",
    ]
    assert [r["outputs.fluency.fluency_result"] for r in rows] == [
        "pass",
        "pass",
        "fail",
        "fail",
        "fail",
    ]
    assert rows[0]["outputs.relevance.relevance_reason"].startswith("stub judge")
    assert rows[0]["outputs.relevance.relevance_prompt_tokens"] > 0
    assert len(rows[0]["outputs.relevance.relevance_prompt_sha256"]) == 64
    m = data["metrics"]
    assert m["relevance.relevance"] == 3.0 and m["relevance.pass_rate"] == 0.6
    assert data["usage"]["total"]["calls"] == 10
    assert data["usage"]["evaluators"]["relevance"]["prompt_tokens"] > 0
    assert data["run"]["evaluators"]["relevance"]["prompt_sha256"]
    reqs = stub.requests
    assert len(reqs) == 10 and all(r.route == AZURE_CHAT for r in reqs)
    r0 = reqs[0]
    assert r0.path == "/openai/deployments/gpt-4o/chat/completions"
    assert r0.query["api-version"] == "2024-10-21"
    assert r0.headers["api-key"] == KEY
    assert r0.body["temperature"] == 0 and r0.body["response_format"] == {"type": "json_object"}
    assert [m["role"] for m in r0.body["messages"]] == ["system", "user"]
    assert KEY not in res.stdout + res.stderr


def test_openai_compatible_judge(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer, env_key: None
) -> None:
    text = azure_config(stub.url, "  coherence: {}").replace(
        f"type: azure_openai\n  endpoint: {stub.url}\n  deployment: gpt-4o\n"
        "  api_key: ${env:AZURE_OPENAI_API_KEY}",
        f"type: openai\n  base_url: {stub.url}/v1\n  model: llama3.1\n"
        "  api_key: ${env:OPENAI_API_KEY}",
    )
    cfg = make_config(text, rows_with_scores([2, 4]))
    res = invoke(cli, cfg)
    assert res.exit_code == 0, res.stderr
    assert [r["outputs.coherence.coherence"] for r in results(tmp_path)["rows"]] == [2, 4]
    req = stub.requests[0]
    assert req.route == OPENAI_CHAT and req.path == "/v1/chat/completions"
    assert req.body["model"] == "llama3.1"
    assert req.headers["authorization"] == f"Bearer {KEY}"


def test_entra_id_with_token_provider(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No api_key: evalcli asks azure-identity for a bearer token (a stand-in package here)."""
    pkg = tmp_path / "fake_site" / "azure" / "identity"
    pkg.mkdir(parents=True)
    (pkg.parent / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text(
        textwrap.dedent("""
        SCOPES = []
        class DefaultAzureCredential:
            pass
        def get_bearer_token_provider(credential, *scopes):
            SCOPES.extend(scopes)
            return lambda: "entra-token-123"
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path / "fake_site"))
    for name in [m for m in sys.modules if m == "azure" or m.startswith("azure.")]:
        monkeypatch.delitem(sys.modules, name)
    with StubServer(api_key=KEY, bearer_tokens={"entra-token-123"}) as srv:
        text = azure_config(srv.url, "  fluency: {}").replace(
            "  api_key: ${env:AZURE_OPENAI_API_KEY}\n", ""
        )
        cfg = make_config(text, rows_with_scores([5]))
        res = invoke(cli, cfg)
        assert res.exit_code == 0, res.stderr
        assert srv.requests[0].headers["authorization"] == "Bearer entra-token-123"
    import azure.identity  # the stand-in

    assert azure.identity.SCOPES == ["https://cognitiveservices.azure.com/.default"]


def test_entra_without_azure_identity_is_exit_2(
    cli: CliRunner, make_config: MakeConfig, stub: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "azure.identity", None)  # import fails
    text = azure_config(stub.url, "  fluency: {}").replace(
        "  api_key: ${env:AZURE_OPENAI_API_KEY}\n", ""
    )
    cfg = make_config(text, rows_with_scores([5]))
    res = cli.invoke(app, ["validate", str(cfg)])
    assert res.exit_code == 2
    assert "azure-identity" in res.stderr and "evalcli[entra]" in res.stderr
    assert stub.count() == 0


@pytest.mark.parametrize(
    "fault",
    [
        status(429, retry_after=0.05),
        status(429, retry_after=0.05, retry_after_header="ms"),
        status(500),
        status(503),
        status(408),
        status(409),
        drop(),
    ],
)
def test_transient_faults_are_retried(
    cli: CliRunner,
    make_config: MakeConfig,
    tmp_path: Path,
    stub: StubServer,
    env_key: None,
    fault: Reply,
) -> None:
    stub.script(fault, fault, route=AZURE_CHAT)  # every logical request fails twice, then works
    cfg = make_config(azure_config(stub.url, "  relevance: {}"), rows_with_scores([4, 2]))
    res = invoke(cli, cfg)
    assert res.exit_code == 0, res.stderr
    data = results(tmp_path)
    assert [r["outputs.relevance.relevance"] for r in data["rows"]] == [4, 2]
    assert stub.count(route=AZURE_CHAT) == 6
    assert data["usage"]["total"]["retries"] == 4


def test_retry_after_is_honoured(
    cli: CliRunner, make_config: MakeConfig, stub: StubServer, env_key: None
) -> None:
    stub.script(status(429, retry_after=0.6, retry_after_header="seconds"), route=AZURE_CHAT)
    cfg = make_config(azure_config(stub.url, "  relevance: {}"), rows_with_scores([4]))
    assert invoke(cli, cfg).exit_code == 0
    first, second = stub.requests
    assert second.started_at - first.started_at >= 0.55


def test_timeout_is_retried(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer, env_key: None
) -> None:
    stub.script(stall(2.0), route=AZURE_CHAT)
    text = azure_config(stub.url, "  relevance: {}").replace("timeout_s: 5", "timeout_s: 0.5")
    cfg = make_config(text, rows_with_scores([3]))
    res = invoke(cli, cfg)
    assert res.exit_code == 0, res.stderr
    assert results(tmp_path)["rows"][0]["outputs.relevance.relevance"] == 3
    assert stub.count(route=AZURE_CHAT) == 2


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (status(400, message="content filtered"), "judge-http-400"),
        (
            status(429, code="insufficient_quota", message="You exceeded your quota"),
            "judge-http-429",
        ),
    ],
)
def test_no_retry_on_client_errors(
    cli: CliRunner,
    make_config: MakeConfig,
    tmp_path: Path,
    stub: StubServer,
    env_key: None,
    reply: Reply,
    kind: str,
) -> None:
    # Only the first row fails; the others succeed, so this is a row error, not a broken judge.
    def responder(req: StubRequest) -> Reply | None:
        return reply if "Question 1?" in json.dumps(req.body) else None

    stub.add_responder(responder, route=AZURE_CHAT)
    cfg = make_config(
        azure_config(stub.url, "  relevance: {}", "run: {max_error_rate: 0.5}"),
        rows_with_scores([4, 5, 3]),
    )
    res = invoke(cli, cfg)
    assert res.exit_code == 0, res.stderr
    rows = results(tmp_path)["rows"]
    assert rows[0]["outputs.relevance.error_kind"] == kind
    assert "outputs.relevance.relevance" not in rows[0]
    assert stub.count(route=AZURE_CHAT) == 3  # no retries


def test_bad_key_stops_the_run(
    cli: CliRunner,
    make_config: MakeConfig,
    tmp_path: Path,
    stub: StubServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "sk-wrong-key-abcdefghijk")
    cfg = make_config(azure_config(stub.url, "  relevance: {}"), rows_with_scores([3] * 200))
    res = invoke(cli, cfg)
    assert res.exit_code == 3
    assert "authentication" in res.stderr and "gpt-4o" in res.stderr and stub.url in res.stderr
    assert "sk-wrong-key-abcdefghijk" not in res.stderr + res.stdout
    assert stub.count() < 40  # stopped early instead of failing all 200 rows
    data = results(tmp_path)
    assert data["status"] == "run_error"
    assert "sk-wrong-key" not in json.dumps(data)


def test_unknown_deployment_stops_the_run(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer, env_key: None
) -> None:
    text = azure_config(stub.url, "  relevance: {}").replace(
        "deployment: gpt-4o", "deployment: gpt-5-typo"
    )
    cfg = make_config(text, rows_with_scores([3] * 100))
    res = invoke(cli, cfg)
    assert res.exit_code == 3
    assert "gpt-5-typo" in res.stderr and "first" in res.stderr
    assert stub.count() < 40


def test_unreachable_endpoint_stops_the_run(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, env_key: None
) -> None:
    srv = StubServer(api_key=KEY)
    srv.start()
    url = srv.url
    srv.stop()  # nothing listens there any more
    text = azure_config(url, "  relevance: {}").replace("max_retries: 3", "max_retries: 1")
    cfg = make_config(text, rows_with_scores([3] * 50))
    started = time.monotonic()
    res = invoke(cli, cfg)
    assert res.exit_code == 3, res.stderr
    assert "connection" in res.stderr and url in res.stderr
    assert time.monotonic() - started < 20


def test_unparseable_and_out_of_range_answers(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer, env_key: None
) -> None:
    def responder(req: StubRequest) -> Reply | None:
        text = json.dumps(req.body)
        if "Question 2?" in text:
            return malformed("I think this deserves a good score.")
        if "Question 3?" in text:
            return Reply(content='{"score": 9, "reason": "off the scale"}')
        if "Question 4?" in text:
            return Reply(content='Sure! ```json\n{"score": 4, "reason": "fenced"}\n```')
        return None

    stub.add_responder(responder, route=AZURE_CHAT)
    cfg = make_config(
        azure_config(stub.url, "  relevance: {}", "run: {max_error_rate: 1.0}"),
        rows_with_scores([5, 5, 5, 5]),
    )
    assert invoke(cli, cfg).exit_code == 0
    data = results(tmp_path)
    rows = data["rows"]
    assert rows[0]["outputs.relevance.relevance"] == 5
    assert rows[1]["outputs.relevance.error_kind"] == "judge-output-unparseable"
    assert (
        rows[1]["outputs.relevance.relevance_raw_output"] == "I think this deserves a good score."
    )
    assert "outputs.relevance.relevance_result" not in rows[1]
    assert rows[2]["outputs.relevance.error_kind"] == "judge-score-out-of-range"
    assert rows[3]["outputs.relevance.relevance"] == 4
    m = data["metrics"]
    assert m["relevance.error_count"] == 2
    assert m["relevance.pass_rate"] == 1.0  # unscored rows are neither pass nor fail
    assert m["relevance.relevance"] == 4.5
    assert {e["line"] for e in data["errors"]} == {2, 3}


def test_evaluator_level_judge_override(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer, env_key: None
) -> None:
    evaluators = (
        "  rel_a: {use: relevance}\n"
        "  rel_b:\n"
        "    use: relevance\n"
        "    judge:\n"
        "      type: azure_openai\n"
        f"      endpoint: {stub.url}\n"
        "      deployment: judge-b\n"
        "      api_key: ${env:AZURE_OPENAI_API_KEY}\n"
    )
    cfg = make_config(azure_config(stub.url, evaluators), rows_with_scores([4, 2]))
    res = invoke(cli, cfg)
    assert res.exit_code == 0, res.stderr
    assert stub.count(model="gpt-4o") == 2 and stub.count(model="judge-b") == 2
    data = results(tmp_path)
    assert "judge-b" in data["run"]["evaluators"]["rel_b"]["judge"]
    assert len(data["usage"]["clients"]) == 2


def test_qa_composite(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer, env_key: None
) -> None:
    rows = [
        {
            "question": "Q1?",
            "answer": "Paris is the capital. STUB_SCORE=4",
            "truth": "Paris is the capital.",
            "ctx": "Paris is the capital of France.",
        },
        {
            "question": "Q2?",
            "answer": "No idea. STUB_SCORE=2",
            "truth": "Rome.",
            "ctx": "Rome is the capital of Italy.",
        },
    ]
    evaluators = (
        "  qa:\n    columns: {context: ${data.ctx}}\n"
        "    threshold: {groundedness: 5, f1_score: 0.4}\n"
    )
    cfg = make_config(azure_config(stub.url, evaluators), rows)
    res = invoke(cli, cfg)
    assert res.exit_code == 0, res.stderr
    data = results(tmp_path)
    r0 = data["rows"][0]
    for member in ("groundedness", "relevance", "coherence", "fluency", "similarity"):
        assert r0[f"outputs.qa.{member}"] == 4
    assert r0["outputs.qa.groundedness_result"] == "fail"  # own threshold 5
    assert r0["outputs.qa.relevance_result"] == "pass"
    assert r0["outputs.qa.f1_score_threshold"] == 0.4
    assert stub.count() == 10
    m = data["metrics"]
    assert m["qa.relevance"] == 3.0
    assert m["qa.relevance_pass_rate"] == 0.5 and m["qa.groundedness_pass_rate"] == 0.0
    assert "qa.f1_score_pass_rate" in m


def test_qa_member_error_keeps_other_members(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer, env_key: None
) -> None:
    def responder(req: StubRequest) -> Reply | None:
        system = req.body["messages"][0]["content"]
        return malformed("nope") if "Rate the FLUENCY" in system else None

    stub.add_responder(responder, route=AZURE_CHAT)
    rows = [{"question": "Q1?", "answer": "Yes. STUB_SCORE=5", "truth": "Yes.", "context": "c"}]
    cfg = make_config(azure_config(stub.url, "  qa: {}", "run: {max_error_rate: 0.5}"), rows)
    res = invoke(cli, cfg)
    assert res.exit_code == 0, res.stderr
    data = results(tmp_path)
    r0 = data["rows"][0]
    assert r0["outputs.qa.fluency_error_kind"] == "judge-output-unparseable"
    assert "outputs.qa.fluency" not in r0
    assert r0["outputs.qa.relevance"] == 5
    assert data["metrics"]["qa.error_count"] == 1
    assert data["errors"][0]["evaluator"] == "qa"


def test_transcripts(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer, env_key: None
) -> None:
    cfg = make_config(azure_config(stub.url, "  fluency: {}"), rows_with_scores([3, 4]))
    out = tmp_path / "transcripts.jsonl"
    assert invoke(cli, cfg, "--save-transcripts", str(out)).exit_code == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 2
    rec = sorted(records, key=lambda r: r["line"])[0]
    assert rec["evaluator"] == "fluency" and rec["line"] == 1
    assert rec["request"]["messages"][0]["role"] == "system"
    assert json.loads(rec["response"]["content"])["score"] == 3
    assert rec["response"]["usage"]["prompt_tokens"] > 0
    assert KEY not in out.read_text()


def test_judge_needed_but_not_configured(cli: CliRunner, make_config: MakeConfig) -> None:
    cfg = make_config(
        "dataset: {path: data.jsonl}\nevaluators:\n  relevance: {}\n",
        [{"query": "q", "response": "r"}],
    )
    res = cli.invoke(app, ["validate", str(cfg)])
    assert res.exit_code == 2
    assert "needs a judge model" in res.stderr and "eval.yaml:3" in res.stderr


def test_judge_threshold_outside_scale(
    cli: CliRunner, make_config: MakeConfig, stub: StubServer, env_key: None
) -> None:
    cfg = make_config(azure_config(stub.url, "  relevance: {threshold: 7}"), rows_with_scores([3]))
    res = cli.invoke(app, ["validate", str(cfg)])
    assert res.exit_code == 2 and "between 1 and 5" in res.stderr


def test_fault_injection_run_matches_fault_free_run(
    make_config: MakeConfig, tmp_path: Path, env_key: None
) -> None:
    """30 % 429, 10 % 500, 5 % malformed, 5 % dropped: every row is scored or an explicit
    error; transient faults are retried to success; metrics over scored rows are unchanged."""
    import evalcli

    rows = [
        {"id": i, "question": f"Question {i}?", "answer": f"Answer number {i}.", "truth": "x"}
        for i in range(200)
    ]
    schedule = faults(
        rate_limit=0.30,
        server_error=0.10,
        malformed_answer=0.05,
        dropped=0.05,
        retry_after=0.05,
        seed=3,
    )
    with StubServer(api_key=KEY) as clean, StubServer(api_key=KEY) as flaky:
        flaky.add_responder(schedule, route=AZURE_CHAT)
        outs = {}
        for name, srv in (("clean", clean), ("flaky", flaky)):
            cfg = make_config(
                azure_config(
                    srv.url, "  relevance: {}", "run: {max_error_rate: 0.2, concurrency: 30}"
                ),
                rows,
                name=f"{name}.yaml",
            )
            outs[name] = evalcli.run(
                cfg, keep_rows=True, options=evalcli.PlanOptions(output_dir=tmp_path / name)
            )
    clean_r, flaky_r = outs["clean"], outs["flaky"]
    assert clean_r.errors == []
    assert flaky_r.rows is not None and clean_r.rows is not None
    assert len(flaky_r.rows) == 200
    bad = {e.line for e in flaky_r.errors}
    assert all(e.kind == "judge-output-unparseable" for e in flaky_r.errors)
    assert 0.02 * 200 <= len(bad) <= 0.09 * 200  # ~5 % malformed, nothing else failed
    retries = flaky_r.usage["total"]["retries"]
    assert retries >= 0.3 * 200  # the 429/500/drop faults were retried
    for fr, cr in zip(flaky_r.rows, clean_r.rows, strict=True):
        if fr["line"] in bad:
            assert "outputs.relevance.relevance" not in fr
            assert fr["outputs.relevance.relevance_raw_output"]
        else:
            assert fr["outputs.relevance.relevance"] == cr["outputs.relevance.relevance"]
    # Metrics over the scored rows equal the fault-free run's metrics over the same rows.
    scored = [cr["outputs.relevance.relevance"] for cr in clean_r.rows if cr["line"] not in bad]
    assert flaky_r.metrics["relevance.relevance"] == pytest.approx(sum(scored) / len(scored))
    assert flaky_r.metrics["relevance.error_count"] == len(bad)


def test_content_filter_refusals_never_stop_the_run(
    cli: CliRunner, make_config: MakeConfig, tmp_path: Path, stub: StubServer, env_key: None
) -> None:
    """Azure's content filter refusing flagged rows is about the data, not the endpoint."""
    stub.add_responder(
        lambda req: status(400, code="content_filter", message="filtered"), route=AZURE_CHAT
    )
    cfg = make_config(
        azure_config(stub.url, "  relevance: {}", "run: {max_error_rate: 1.0}"),
        rows_with_scores([3] * 8),
    )
    res = invoke(cli, cfg)
    assert res.exit_code == 0, res.stderr
    data = results(tmp_path)
    assert stub.count(route=AZURE_CHAT) == 8  # every row was tried
    assert {r["outputs.relevance.error_kind"] for r in data["rows"]} == {"judge-http-400"}
