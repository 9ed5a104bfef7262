"""Self-tests of the loopback stub server, driven by the real ``openai`` client and urllib."""

from __future__ import annotations

import base64
import http.client
import json
import os
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai
import pytest

from evalcli.testing.stub_chat import judge_answer
from evalcli.testing.stub_server import (
    AML_SCORE,
    AZURE_CHAT,
    CHAT_ROUTES,
    CS_TEXT_ANALYZE,
    OPENAI_CHAT,
    ContentSafetyLimits,
    Reply,
    StubServer,
    drop,
    echo,
    faults,
    malformed,
    sequence,
    stall,
    status,
)

KEY = "stub-test-key"
TOKEN = "entra-test-token"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def srv() -> Iterator[StubServer]:
    with StubServer(api_key=KEY, bearer_tokens={TOKEN}, models={"judge", "gpt-4o", "target"}) as s:
        yield s


def oai(
    srv: StubServer, *, key: str = KEY, retries: int = 0, timeout: float = 5.0
) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=srv.url + "/v1", api_key=key, max_retries=retries, timeout=timeout
    )


def azure(
    srv: StubServer, *, key: str | None = KEY, retries: int = 0, timeout: float = 5.0, **kw: Any
) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(
        azure_endpoint=srv.url,
        api_version="2024-10-21",
        api_key=key,
        max_retries=retries,
        timeout=timeout,
        **kw,
    )


def ask(client: openai.OpenAI, text: str, model: str = "judge", **kw: Any) -> Any:
    return client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": text}], **kw
    )


def post(
    url: str, body: Any, headers: Mapping[str, str] | None = None, *, method: str = "POST"
) -> tuple[int, Mapping[str, str], Any]:
    """POST JSON with urllib; (status, headers, parsed JSON body or None)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(
        url,
        data=data if method == "POST" else None,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            raw = resp.read()
            return resp.status, dict(resp.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        with err:
            raw = err.read()
            return err.code, dict(err.headers), json.loads(raw) if raw else None


def cs(srv: StubServer, op: str, body: Any, version: str | None = "2024-09-01", **hdr: str) -> Any:
    query = f"?api-version={version}" if version else ""
    headers = hdr or {"Ocp-Apim-Subscription-Key": KEY}
    return post(f"{srv.url}/contentsafety/{op}{query}", body, headers)


# -- chat: OpenAI and Azure OpenAI through the real client ------------------------------------


def test_openai_chat_returns_parsed_completion_with_usage(srv: StubServer) -> None:
    with oai(srv) as client:
        completion = ask(client, "Rate this. STUB_SCORE=4")
    assert json.loads(completion.choices[0].message.content) == {
        "score": 4,
        "reason": "stub judge: score from the STUB_SCORE directive",
    }
    assert completion.object == "chat.completion"
    assert completion.model == "judge"
    assert completion.choices[0].finish_reason == "stop"
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    (req,) = srv.requests
    assert (req.method, req.path, req.route, req.model, req.status) == (
        "POST",
        "/v1/chat/completions",
        OPENAI_CHAT,
        "judge",
        200,
    )
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.body["messages"][0]["content"] == "Rate this. STUB_SCORE=4"


def test_azure_chat_uses_deployment_path_api_version_and_api_key(srv: StubServer) -> None:
    with azure(srv) as client:
        completion = ask(client, "hello", model="gpt-4o")
    assert completion.usage is not None and completion.usage.total_tokens > 0
    (req,) = srv.requests
    assert req.path == "/openai/deployments/gpt-4o/chat/completions"
    assert req.query == {"api-version": "2024-10-21"}
    assert (req.route, req.model, req.headers["api-key"]) == (AZURE_CHAT, "gpt-4o", KEY)
    assert "authorization" not in req.headers


def test_azure_entra_token_provider_is_accepted_and_bad_token_refused(srv: StubServer) -> None:
    with azure(srv, key=None, azure_ad_token_provider=lambda: TOKEN) as client:
        ask(client, "hi", model="gpt-4o")
    assert srv.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    with (
        azure(srv, key=None, azure_ad_token_provider=lambda: "expired") as client,
        pytest.raises(openai.AuthenticationError) as err,
    ):
        ask(client, "hi", model="gpt-4o")
    assert err.value.status_code == 401
    assert "access token" in err.value.message.lower()


@pytest.mark.parametrize("provider", ["openai", "azure"])
def test_wrong_key_raises_authentication_error(srv: StubServer, provider: str) -> None:
    client = oai(srv, key="wrong-key") if provider == "openai" else azure(srv, key="wrong-key")
    with client, pytest.raises(openai.AuthenticationError) as err:
        ask(client, "hi")
    assert err.value.status_code == 401
    body = err.value.body
    assert isinstance(body, dict) and body["message"]
    if provider == "openai":
        assert body["code"] == "invalid_api_key" and "wrong-key" not in body["message"]
    else:
        assert body["code"] == "401" and body["message"].startswith("Access denied")


def test_unknown_deployment_is_azure_404_deployment_not_found(srv: StubServer) -> None:
    with azure(srv) as client, pytest.raises(openai.NotFoundError) as err:
        ask(client, "hi", model="no-such-deployment")
    assert err.value.code == "DeploymentNotFound"
    with oai(srv) as client, pytest.raises(openai.NotFoundError) as err:
        ask(client, "hi", model="no-such-model")
    assert err.value.code == "model_not_found"


@pytest.mark.parametrize("query", ["", "?api-version=latest"])
def test_azure_route_without_valid_api_version_is_404(srv: StubServer, query: str) -> None:
    url = f"{srv.url}/openai/deployments/gpt-4o/chat/completions{query}"
    code, _, body = post(url, {"messages": [{"role": "user", "content": "x"}]}, {"api-key": KEY})
    assert code == 404
    assert body == {"error": {"code": "404", "message": "Resource not found"}}


def test_invalid_chat_body_is_400(srv: StubServer) -> None:
    with oai(srv) as client, pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="judge", messages=[])
    with oai(srv) as client, pytest.raises(openai.BadRequestError) as err:
        ask(client, "x", stream=False, extra_body={"messages": [{"content": "no role"}]})
    assert "role" in err.value.message


def test_multimodal_parts_and_response_format_are_accepted(srv: StubServer) -> None:
    image = "data:image/png;base64," + base64.b64encode(png(64, 64)).decode()
    with oai(srv) as client:
        completion = client.chat.completions.create(
            model="judge",
            response_format={"type": "json_object"},
            messages=[
                {"role": "system", "content": "You are a judge."},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Judge the picture. STUB_SCORE=2"},
                        {"type": "image_url", "image_url": {"url": image}},
                    ],
                },
            ],
        )
    content = completion.choices[0].message.content
    assert content is not None and json.loads(content)["score"] == 2
    assert srv.requests[0].body["response_format"] == {"type": "json_object"}


def test_unknown_response_format_type_is_the_apis_400(srv: StubServer) -> None:
    schema = {"name": "verdict", "schema": {"type": "object"}}
    with oai(srv) as client:
        for accepted in ({"type": "text"}, {"type": "json_schema", "json_schema": schema}):
            ask(client, "STUB_SCORE=3", response_format=accepted)
        # "json" is what promptflow-era Prompty files say; the API refuses it on every call.
        with pytest.raises(openai.BadRequestError) as err:
            ask(client, "STUB_SCORE=3", response_format={"type": "json"})
        with pytest.raises(openai.BadRequestError) as missing:
            ask(client, "STUB_SCORE=3", response_format={"json_schema": schema})
    assert err.value.status_code == 400
    assert err.value.body == {
        "code": "invalid_value",
        "message": "Invalid value: 'json'. Supported values are: 'json_object', 'json_schema', "
        "and 'text'.",
        "type": "invalid_request_error",
        "param": "response_format.type",
    }
    assert missing.value.code == "missing_required_parameter"
    assert [r.status for r in srv.requests] == [200, 200, 400, 400]


def test_default_judge_is_deterministic_and_label_directive_works(srv: StubServer) -> None:
    with oai(srv) as client:
        first = ask(client, "Is the sky green?").choices[0].message.content
        again = ask(client, "Is the sky green?").choices[0].message.content
        label = json.loads(ask(client, "attack? STUB_LABEL=true").choices[0].message.content)
    assert first == again
    expected = 1 + zlib.crc32(b"Is the sky green?") % 5
    assert json.loads(first)["score"] == expected == judge_answer("Is the sky green?")["score"]
    assert label["label"] is True and set(label["details"]) == {
        "manipulated_content",
        "intrusion",
        "information_gathering",
    }


def test_echo_responder_for_a_target_deployment(srv: StubServer) -> None:
    srv.add_responder(echo, route=CHAT_ROUTES, model="target")
    with azure(srv) as client:
        target = ask(client, "Describe a nurse.", model="target").choices[0].message.content
        judged = ask(client, "Describe a nurse.", model="gpt-4o").choices[0].message.content
    assert target == "Answer: Describe a nurse."
    assert "score" in json.loads(judged)


# -- scripted faults and the client's own retries ---------------------------------------------


@pytest.mark.parametrize("header", ["both", "seconds", "ms"])
def test_scripted_429_with_retry_after_is_retried_by_the_client(
    srv: StubServer, header: Any
) -> None:
    srv.script(
        status(429, retry_after=0.1, retry_after_header=header),
        status(429, retry_after=0.1, retry_after_header=header),
        route=OPENAI_CHAT,
    )
    started = time.monotonic()
    with oai(srv, retries=2) as client:
        completion = ask(client, "retry me STUB_SCORE=5")
    elapsed = time.monotonic() - started
    assert json.loads(completion.choices[0].message.content)["score"] == 5
    assert [r.status for r in srv.requests] == [429, 429, 200]
    assert [r.headers["x-stainless-retry-count"] for r in srv.requests] == ["0", "1", "2"]
    # Two honoured waits of 0.1 s; the client's own backoff would be >= 2 x 0.375 s.
    assert 0.18 <= elapsed < 0.6


def test_retry_budget_exhausted_raises_rate_limit_error(srv: StubServer) -> None:
    srv.script(*[status(429, retry_after=0.05)] * 3, route=OPENAI_CHAT)
    with oai(srv, retries=2) as client, pytest.raises(openai.RateLimitError):
        ask(client, "never")
    assert srv.count(status=429) == 3


def test_500_is_internal_server_error_and_retried(srv: StubServer) -> None:
    srv.script(status(500), route=AZURE_CHAT, model="gpt-4o", then=None)
    with azure(srv) as client, pytest.raises(openai.InternalServerError):
        ask(client, "x", model="gpt-4o")
    srv.clear_responders()
    srv.script(status(500, retry_after=0.05), route=AZURE_CHAT)
    with azure(srv, retries=1) as client:
        ask(client, "y", model="gpt-4o")
    assert [r.status for r in srv.requests] == [500, 500, 200]


def test_dropped_connection_is_api_connection_error(srv: StubServer) -> None:
    srv.script(drop())
    with oai(srv) as client, pytest.raises(openai.APIConnectionError) as err:
        ask(client, "x")
    assert not isinstance(err.value, openai.APITimeoutError)
    assert srv.requests[0].status is None and srv.requests[0].finished_at is not None


def test_stall_triggers_client_timeout(srv: StubServer) -> None:
    srv.script(stall(5.0))
    started = time.monotonic()
    with oai(srv, timeout=0.3) as client, pytest.raises(openai.APITimeoutError):
        ask(client, "x")
    assert time.monotonic() - started < 2.0


def test_malformed_answer_is_served_as_content(srv: StubServer) -> None:
    srv.script(malformed())
    with oai(srv) as client:
        content = ask(client, "x").choices[0].message.content
    assert "{" not in content and "}" not in content


def test_sequence_counts_attempts_per_logical_request(srv: StubServer) -> None:
    srv.add_responder(sequence(status(429, retry_after=0.05)), route=CHAT_ROUTES)
    with oai(srv, retries=1) as client, ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: ask(client, f"row {i}"), range(16)))
    assert len(results) == 16
    assert srv.count(status=429) == 16 and srv.count(status=200) == 16


def test_fault_schedule_recovers_and_keeps_scores(srv: StubServer) -> None:
    prompts = [f"row {i}: judge this answer" for i in range(120)]
    expected = {p: judge_answer(p)["score"] for p in prompts}
    srv.add_responder(
        faults(rate_limit=0.3, server_error=0.1, malformed_answer=0.05, dropped=0.05),
        route=CHAT_ROUTES,
    )

    def run(prompt: str) -> tuple[str, str]:
        return prompt, ask(client, prompt).choices[0].message.content

    # Dropped connections and 500s get no Retry-After, so the client's backoff (>= 0.375 s)
    # applies to them; threads keep the test fast.
    with oai(srv, retries=2) as client, ThreadPoolExecutor(40) as pool:
        answers = dict(pool.map(run, prompts))
    malformed_rows = [p for p, a in answers.items() if not a.startswith("{")]
    scored = {p: json.loads(a)["score"] for p, a in answers.items() if a.startswith("{")}
    assert 0 < len(malformed_rows) < 20
    assert scored == {p: expected[p] for p in scored}
    assert srv.count(status=429) > 15 and srv.count(status=500) > 0
    assert sum(1 for r in srv.requests if r.status is None) > 0  # dropped


def test_per_model_responder_beats_route_responder(srv: StubServer) -> None:
    srv.add_responder(lambda r: Reply(content="route"), route=CHAT_ROUTES)
    srv.add_responder(lambda r: Reply(content="model"), model="gpt-4o")
    srv.add_responder(lambda r: None, model="gpt-4o")  # no opinion → next registration
    with azure(srv) as client:
        assert ask(client, "x", model="gpt-4o").choices[0].message.content == "model"
        assert ask(client, "x", model="judge").choices[0].message.content == "route"


# -- concurrency and lifecycle ----------------------------------------------------------------


def test_100_concurrent_requests_with_200ms_latency_finish_well_under_1s() -> None:
    # Raw keep-alive connections, opened before the clock starts, so the measurement is about
    # the server (the openai client's own CPU is measured in the benchmarks instead).
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    with StubServer(api_key=KEY, latency_s=0.2) as srv:
        conns = [http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5) for _ in range(100)]
        for conn in conns:
            conn.connect()
        barrier = threading.Barrier(101)

        def one(conn: http.client.HTTPConnection) -> int:
            barrier.wait(timeout=5)
            conn.request("POST", "/v1/chat/completions", body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            return resp.status

        try:
            with ThreadPoolExecutor(100) as pool:
                futures = [pool.submit(one, c) for c in conns]
                barrier.wait(timeout=5)
                started = time.monotonic()
                codes = [f.result(timeout=5) for f in futures]
                wall = time.monotonic() - started
        finally:
            for conn in conns:
                conn.close()
        assert codes == [200] * 100
        assert srv.max_in_flight == 100
    assert wall < 0.6, f"100 concurrent requests took {wall:.2f}s"


def test_100_concurrent_openai_calls_overlap_fully() -> None:
    with StubServer(api_key=KEY, latency_s=0.2) as srv, oai(srv, timeout=5) as client:
        ask(client, "warm-up")  # pay the client's lazy imports outside the timed part
        srv.reset()
        barrier = threading.Barrier(100)

        def one(i: int) -> int:
            barrier.wait(timeout=5)
            return len(ask(client, f"request {i}").choices)

        with ThreadPoolExecutor(100) as pool:
            started = time.monotonic()
            assert sum(pool.map(one, range(100))) == 100
            wall = time.monotonic() - started
        # The server added (almost) nothing to the 200 ms latency and the calls overlapped.
        # Bounds are loose where the client's CPU is involved: on a busy 2-core machine it
        # can't issue 100 requests within 200 ms (about 90-100 overlap when idle).
        assert max(r.duration_s or 0.0 for r in srv.requests) < 0.35
        assert srv.max_in_flight >= 50
    assert wall < 2.0, f"100 concurrent openai calls took {wall:.2f}s"


def test_keep_alive_serves_many_requests_on_one_connection(srv: StubServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        for _ in range(3):
            conn.request(
                "POST",
                "/v1/chat/completions",
                body=json.dumps({"model": "judge", "messages": [{"role": "user", "content": "x"}]}),
                headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
            )
            resp = conn.getresponse()
            assert resp.status == 200 and json.loads(resp.read())["usage"]["total_tokens"] > 0
            assert resp.getheader("Connection") != "close"
    finally:
        conn.close()


def test_start_stop_idempotent_restart_and_stop_wakes_stalled_handlers() -> None:
    srv = StubServer(api_key=None)
    with pytest.raises(RuntimeError):
        _ = srv.url
    srv.start()
    srv.start()
    url, port = srv.url, srv.port
    srv.add_responder(lambda r: stall(30.0))
    errors: list[BaseException] = []

    def call() -> None:
        try:
            post(
                url + "/v1/chat/completions",
                {"model": "m", "messages": [{"role": "user", "content": "x"}]},
            )
        except Exception as exc:  # the connection is closed under the client
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 5
    while srv.in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    srv.stop()
    srv.stop()
    caller.join(timeout=5)
    assert time.monotonic() - started < 2.0 and not caller.is_alive() and errors
    srv.clear_responders()
    with srv:
        assert srv.port == port
        code, _, _ = post(srv.url + "/v1/chat/completions", {"model": "m", "messages": []})
        assert code == 400  # auth disabled: the empty message list is what's wrong


def test_records_count_reset_and_stats(srv: StubServer) -> None:
    with oai(srv) as client:
        ask(client, "a")
        ask(client, "b", model="gpt-4o")
    reqs = srv.requests
    assert [r.index for r in reqs] == [0, 1]
    assert all(r.finished_at is not None and r.finished_at >= r.started_at for r in reqs)
    assert srv.count() == 2 and srv.count(model="gpt-4o") == 1
    assert srv.count(route=CHAT_ROUTES, status=200) == 2 and srv.count(route=AML_SCORE) == 0
    code, _, stats = post(srv.url + "/_stub/stats", None, method="GET")
    assert code == 200 and stats["requests"] == 2 and stats["by_route"] == {OPENAI_CHAT: 2}
    assert post(srv.url + "/_stub/reset", {})[0] == 200
    assert srv.count() == 0 and srv.requests == []


def test_unknown_path_404_and_wrong_method_405(srv: StubServer) -> None:
    assert post(srv.url + "/v2/nothing", {})[0] == 404
    assert post(srv.url + "/v1/chat/completions", None, method="GET")[0] == 405
    assert srv.count(route="unknown") == 1


def test_command_line_prints_url_first_and_serves() -> None:
    args = ["--port", "0", "--latency", "0.05", "--api-key", "cli-key"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalcli.testing.stub_server", *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        with openai.OpenAI(base_url=url + "/v1", api_key="cli-key", max_retries=0) as client:
            started = time.monotonic()
            assert ask(client, "hello STUB_SCORE=3").usage is not None
            assert time.monotonic() - started >= 0.05
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "stopped after 1 requests" in err


# -- Azure ML online endpoint ------------------------------------------------------------------


def test_aml_score_default_auth_and_validation(srv: StubServer) -> None:
    url = srv.url + "/score"
    body = {"input_data": ['Say "hi"\nplease'], "params": {"temperature": 0.7}}
    code, _, out = post(url, body, {"Authorization": f"Bearer {KEY}"})
    assert (code, out) == (200, {"output": 'Answer: Say "hi"\nplease'})
    chat = {"input_data": {"input_string": [{"role": "user", "content": "Q?"}], "parameters": {}}}
    code, _, out = post(url, chat, {"Authorization": f"Bearer {TOKEN}"})
    assert (code, out) == (200, {"output": "Answer: Q?"})
    assert post(url, body, {"Authorization": "Bearer nope"})[0] == 401
    assert post(url, body)[0] == 401
    assert post(url, {"inputs": []}, {"Authorization": f"Bearer {KEY}"})[0] == 400
    srv.script(Reply(content="scripted"), route=AML_SCORE)
    headers = {"Authorization": f"Bearer {KEY}", "azureml-model-deployment": "blue"}
    assert post(url, {"input_data": ["z"]}, headers)[2] == {"output": "scripted"}
    assert srv.requests[-1].model == "blue"


# -- Azure AI Content Safety ------------------------------------------------------------------


def test_text_analyze_eight_and_four_levels(srv: StubServer) -> None:
    text = "some text STUB_SEVERITY=Violence:5,Hate:3,self_harm:7"
    code, _, out = cs(srv, "text:analyze", {"text": text, "outputType": "EightSeverityLevels"})
    assert code == 200
    assert out == {
        "blocklistsMatch": [],
        "categoriesAnalysis": [
            {"category": "Hate", "severity": 3},
            {"category": "SelfHarm", "severity": 7},
            {"category": "Sexual", "severity": 0},
            {"category": "Violence", "severity": 5},
        ],
    }
    body = {"text": text, "categories": ["Violence", "Hate"]}
    code, _, out = cs(srv, "text:analyze", body, version="2023-10-01")
    assert out["categoriesAnalysis"] == [
        {"category": "Hate", "severity": 2},
        {"category": "Violence", "severity": 4},
    ]
    assert cs(srv, "text:analyze", {"text": "x", "categories": ["Gore"]})[0] == 400


def test_content_safety_auth(srv: StubServer) -> None:
    body = {"text": "hello"}
    assert cs(srv, "text:analyze", body, Authorization=f"Bearer {TOKEN}")[0] == 200
    code, _, out = cs(srv, "text:analyze", body, **{"Ocp-Apim-Subscription-Key": "bad"})
    assert code == 401 and out["error"]["code"] == "401"
    code, _, out = cs(srv, "text:analyze", body, **{"X-Other": "1"})
    assert code == 401 and out["error"]["message"].startswith("Access denied")


def test_content_safety_api_version_errors(srv: StubServer) -> None:
    code, _, out = cs(srv, "text:analyze", {"text": "x"}, version=None)
    assert code == 400 and out["error"]["code"] == "MissingApiVersionParameter"
    code, _, out = cs(srv, "text:detectGroundedness", {"text": "x"}, version="2024-09-01")
    assert code == 400 and out["error"]["code"] == "UnsupportedApiVersionValue"
    assert "2024-09-15-preview" in out["error"]["message"]


def test_text_analyze_enforces_10k_limit(srv: StubServer) -> None:
    assert cs(srv, "text:analyze", {"text": "a" * 10_000})[0] == 200
    code, headers, out = cs(srv, "text:analyze", {"text": "é" * 10_001})
    assert code == 400
    assert out["error"]["code"] == "InvalidRequestBody" and out["error"]["target"] == "text"
    assert headers["x-ms-error-code"] == "InvalidRequestBody"


def test_limits_are_configurable() -> None:
    limits = ContentSafetyLimits(analyze_text_max_chars=5)
    with StubServer(api_key=KEY, content_safety_limits=limits) as srv:
        assert cs(srv, "text:analyze", {"text": "123456"})[0] == 400
        assert srv.count(route=CS_TEXT_ANALYZE, status=400) == 1


def test_image_analyze_shapes_and_limits(srv: StubServer) -> None:
    image = png(64, 64, b"STUB_SEVERITY=Sexual:5,Violence:1")
    code, _, out = cs(srv, "image:analyze", {"image": {"content": b64(image)}})
    assert code == 200
    assert out == {
        "categoriesAnalysis": [
            {"category": "Hate", "severity": 0},
            {"category": "SelfHarm", "severity": 0},
            {"category": "Sexual", "severity": 4},
            {"category": "Violence", "severity": 0},
        ]
    }
    assert cs(srv, "image:analyze", {"image": {"content": b64(png(10, 10))}})[0] == 400
    assert cs(srv, "image:analyze", {"image": {"content": b64(png(7201, 50))}})[0] == 400
    data_url = "data:image/png;base64," + b64(image)
    assert cs(srv, "image:analyze", {"image": {"content": data_url}})[0] == 400
    assert cs(srv, "image:analyze", {"image": {"content": b64(b"not an image")}})[0] == 400
    big = png(64, 64, b"x" * (4 * 1024 * 1024))
    assert cs(srv, "image:analyze", {"image": {"content": b64(big)}})[0] == 400
    body = {"image": {"content": b64(image)}, "outputType": "EightSeverityLevels"}
    assert cs(srv, "image:analyze", body)[0] == 400


def test_protected_material_shapes_and_limits(srv: StubServer) -> None:
    text = "lyrics " * 20
    assert cs(srv, "text:detectProtectedMaterial", {"text": text})[2] == {
        "protectedMaterialAnalysis": {"detected": False}
    }
    out = cs(srv, "text:detectProtectedMaterial", {"text": text + "STUB_PROTECTED"})[2]
    assert out["protectedMaterialAnalysis"]["detected"] is True
    assert cs(srv, "text:detectProtectedMaterial", {"text": "a" * 109})[0] == 400
    assert cs(srv, "text:detectProtectedMaterial", {"text": "a" * 110})[0] == 200
    assert cs(srv, "text:detectProtectedMaterial", {"text": "a" * 10_001})[0] == 400


def test_shield_prompt_shapes_and_limits(srv: StubServer) -> None:
    body = {"userPrompt": "hi STUB_ATTACK", "documents": ["fine", "STUB_ATTACK inside"]}
    out = cs(srv, "text:shieldPrompt", body)[2]
    assert out == {
        "userPromptAnalysis": {"attackDetected": True},
        "documentsAnalysis": [{"attackDetected": False}, {"attackDetected": True}],
    }
    assert cs(srv, "text:shieldPrompt", {"userPrompt": "x", "documents": ["d"] * 6})[0] == 400
    docs = ["a" * 5_000, "b" * 5_001]
    assert cs(srv, "text:shieldPrompt", {"userPrompt": "x", "documents": docs})[0] == 400
    assert cs(srv, "text:shieldPrompt", {"userPrompt": "a" * 10_001})[0] == 400


def test_groundedness_shapes_and_limits(srv: StubServer) -> None:
    def ground(body: dict[str, Any]) -> Any:
        return cs(srv, "text:detectGroundedness", body, version="2024-09-15-preview")

    base = {
        "domain": "Generic",
        "task": "QnA",
        "qna": {"query": "How much does she earn?"},
        "text": "12/hour",
        "groundingSources": ["She earns 10/hour."],
        "reasoning": False,
    }
    assert ground(base)[2] == {
        "ungroundedDetected": False,
        "ungroundedPercentage": 0.0,
        "ungroundedDetails": [],
    }
    ungrounded = "12/hour STUB_UNGROUNDED"
    bad = {
        **base,
        "text": ungrounded,
        "reasoning": True,
        "llmResource": {"resourceType": "AzureOpenAI"},
    }
    out = ground(bad)[2]
    assert out["ungroundedDetected"] is True and out["ungroundedPercentage"] == 1.0
    (detail,) = out["ungroundedDetails"]
    assert detail["length"]["codePoint"] == len(ungrounded) and detail["reason"]
    assert ground({**base, "qna": {"query": "Salary?"}})[0] == 400  # < 3 words
    assert ground({**base, "text": "a" * 7_501})[0] == 400
    assert ground({**base, "groundingSources": ["s" * 30_000, "t" * 25_001]})[0] == 400
    assert ground({**base, "reasoning": True})[0] == 400  # reasoning needs llmResource
    summary = {"task": "Summarization", "text": "x", "groundingSources": ["y"]}
    assert ground(summary)[0] == 200


# -- helpers ------------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def png(width: int, height: int, comment: bytes = b"") -> bytes:
    """A valid grey RGB PNG; ``comment`` goes into a tEXt chunk (severity directives)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + b"\x80" * (3 * width) for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"tEXt", b"Comment\x00" + comment)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
