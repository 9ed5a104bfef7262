"""The remote-call layer in process: retries, health and latch, classification, cache and
concurrency of :class:`evalcli.remote.Endpoint`, and the judge, HTTP-target and Content Safety
clients over fake transports (no sockets). The loopback-server tests (test_judge.py,
test_targets.py, test_safety.py) cover the same clients over real connections."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest
from pydantic import SecretStr

import evalcli
from evalcli.cache import CallCache
from evalcli.config import HttpTargetConfig, JudgeConfig, SafetyConfig
from evalcli.errors import ExitCode, RemoteError, RowError
from evalcli.judge.client import ChatClient, TranscriptWriter
from evalcli.remote import (
    ChatAnswer,
    ChatRequest,
    Classifier,
    Endpoint,
    FakeTransport,
    HttpRequest,
    HttpResponse,
    Payload,
    RetryPolicy,
    StatusError,
    TransportConnectionError,
    TransportTimeoutError,
)
from evalcli.remote.auth import bearer
from evalcli.remote.http import Httpx2Transport
from evalcli.remote.openai_chat import ChatConnection, OpenAIChatTransport
from evalcli.safety.client import ContentSafetyClient
from evalcli.targets.http import HttpTarget
from evalcli.testing.stub_chat import judge_answer, last_user_text
from tests.conftest import MakeConfig, write_jsonl

KEY = "sk-remote-secret-0123456789"
Handler = Any  # a FakeTransport handler: request -> response, or raises


def _read(response: HttpResponse) -> Payload:
    if response.status >= 400:
        body = response.json() if response.text else {}
        raise StatusError(
            response.status,
            code=body.get("code"),
            message=body.get("message", ""),
            headers=response.headers,
        )
    data: Payload = response.json()
    return data


def make_endpoint(
    handler: Handler, *, retries: int = 3, limit: int = 4, total_s: float = 300.0
) -> tuple[
    Endpoint[HttpRequest, HttpResponse], FakeTransport[HttpRequest, HttpResponse], list[float]
]:
    waits: list[float] = []
    fake: FakeTransport[HttpRequest, HttpResponse] = FakeTransport(handler)
    ep: Endpoint[HttpRequest, HttpResponse] = Endpoint(
        "judge test at https://svc.test",
        fake,
        policy=RetryPolicy(max_retries=retries, max_total_s=total_s),
        classifier=Classifier(timeout_s=5, secret=KEY),
        limit=limit,
        row_kind="judge",
        cache_kind="judge",
        sleep=waits.append,  # record the waits instead of waiting
    )
    return ep, fake, waits


def call(ep: Endpoint[HttpRequest, HttpResponse], key: str | None = None) -> Any:
    return ep.call(HttpRequest("POST", "https://svc.test/x"), _read, what="judge call", key=key)


def script(*answers: HttpResponse | Exception) -> Handler:
    """Answer with ``answers`` in turn (the last one forever); exceptions are raised."""
    queue = list(answers)

    def handler(request: HttpRequest) -> HttpResponse:
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler


OK = HttpResponse.of(200, {"ok": True})


def no_wait(seconds: float) -> None:
    """Skip the backoff between attempts (the retry-policy tests check the waits)."""


def error(status: int, code: str | None = None, **headers: str) -> HttpResponse:
    return HttpResponse.of(status, {"code": code, "message": f"boom {KEY}"}, headers=headers)


# -- retry policy ---------------------------------------------------------------------------


def test_429_waits_as_long_as_the_server_asks() -> None:
    ep, _fake, waits = make_endpoint(
        script(error(429, **{"retry-after-ms": "1500"}), error(429, **{"Retry-After": "2"}), OK)
    )
    result = call(ep)
    assert result.payload == {"ok": True} and result.attempts == 3 and not result.cached
    assert waits == [1.5, 2.0]
    assert ep.stats.as_dict() == {
        "calls": 1,
        "cache_hits": 0,
        "succeeded": 1,
        "failed": 0,
        "retries": 2,
        "prompt_tokens": 0,
        "completion_tokens": 0,
    }


def test_transient_failures_are_retried_with_jittered_exponential_backoff() -> None:
    transient = [error(500), error(503), error(408), error(409)]
    ep, _fake, waits = make_endpoint(
        script(*transient, TransportTimeoutError("read"), TransportConnectionError("reset"), OK),
        retries=8,
    )
    assert call(ep).attempts == 7
    for attempt, wait in enumerate(waits, 1):
        step = 0.5 * 2 ** (attempt - 1)  # "equal jitter": half fixed, half random
        assert step / 2 <= wait <= step


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (error(400), "judge-http-400"),
        (error(404), "judge-http-404"),
        (error(422), "judge-http-422"),
        (error(429, "insufficient_quota"), "judge-http-429"),  # waiting brings no quota
    ],
)
def test_failures_waiting_cannot_fix_are_not_retried(answer: HttpResponse, kind: str) -> None:
    ep, fake, waits = make_endpoint(script(answer))
    with pytest.raises(RowError) as info:
        call(ep)
    assert info.value.kind == kind and "after 1 attempt:" in info.value.message
    assert len(fake.requests) == 1 and waits == []


def test_retries_are_bounded_by_attempts_and_by_total_time() -> None:
    ep, fake, _ = make_endpoint(script(error(500)), retries=2)
    with pytest.raises(RowError, match=r"judge call failed: HTTP 500 after 3 attempts: boom"):
        call(ep)
    assert len(fake.requests) == 3

    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    slow = Endpoint(
        "slow",
        FakeTransport(script(error(503, **{"retry-after": "60"}))),
        policy=RetryPolicy(max_retries=50, max_total_s=0.3),
        classifier=Classifier(timeout_s=5),
        limit=1,
        row_kind="judge",
        cache_kind="judge",
        sleep=sleep,
    )
    started = time.monotonic()
    with pytest.raises(RowError):
        call(slow)
    # The server asked for 60 s; the wait never runs past the total budget.
    assert time.monotonic() - started < 2 and all(w <= 0.3 for w in waits)


# -- health and the fatal latch ----------------------------------------------------------------


def test_401_stops_the_run_at_once_and_stays_latched() -> None:
    ep, fake, _ = make_endpoint(script(error(401)))
    with pytest.raises(RemoteError) as info:
        call(ep)
    err = info.value
    assert err.exit_code == ExitCode.RUN_ERROR
    assert str(err).startswith("judge test at https://svc.test: authentication/authorisation")
    assert KEY not in str(err) and "***" in str(err)  # the server echoed the key
    assert len(fake.requests) == 1
    with pytest.raises(RemoteError) as again:
        call(ep)
    assert again.value is err and len(fake.requests) == 1  # no further call was made


def test_first_calls_all_failing_stop_the_run_but_later_failures_are_row_errors() -> None:
    ep, _fake, _ = make_endpoint(script(TransportConnectionError("refused")), retries=0)
    for _ in range(2):
        with pytest.raises(RowError, match="connection failed after 1 attempt: refused"):
            call(ep)
    with pytest.raises(RemoteError, match="the first 3 calls all failed"):
        call(ep)

    ep, _fake, _ = make_endpoint(script(OK, TransportTimeoutError("slow")), retries=0)
    call(ep)
    for _ in range(5):  # the endpoint worked once: failures are about their rows
        with pytest.raises(RowError) as info:
            call(ep)
        assert info.value.kind == "judge-timeout"
        assert info.value.message == "judge call failed: timed out after 1 attempt (timeout_s=5)"


def test_content_filter_refusals_never_count_towards_stopping_the_run() -> None:
    filtered = error(400, "content_filter")
    ep, _fake, _ = make_endpoint(
        script(*[filtered] * 5, TransportConnectionError("refused")), retries=0
    )
    for _ in range(5):
        with pytest.raises(RowError, match="HTTP 400"):
            call(ep)
    for _ in range(2):  # nor do they count as the "first calls"
        with pytest.raises(RowError):
            call(ep)
    with pytest.raises(RemoteError, match="the first 3 calls all failed"):
        call(ep)


# -- cache and concurrency ----------------------------------------------------------------------


def test_answers_are_cached_and_failures_are_not(tmp_path: Path) -> None:
    cache = CallCache(tmp_path / "cache.db")
    ep, fake, _ = make_endpoint(script(OK, error(500), OK), retries=0)
    ep.cache = cache
    assert not call(ep, key="k1").cached
    hit = call(ep, key="k1")
    assert hit.cached and hit.attempts == 0 and hit.payload == {"ok": True}
    assert len(fake.requests) == 1 and cache.info()["by_kind"] == {"judge": 1}
    with pytest.raises(RowError):
        call(ep, key="k2")
    assert cache.get("k2") is None
    assert call(ep, key="k2").attempts == 1  # asked again, not answered from the cache
    assert (ep.stats.calls, ep.stats.cache_hits, ep.stats.failed) == (3, 1, 1)
    cache.close()


def test_calls_in_flight_never_exceed_the_limit_and_cache_hits_never_wait(
    tmp_path: Path,
) -> None:
    gate = threading.Event()
    lock = threading.Lock()
    in_flight = [0, 0]  # now, most

    def handler(request: HttpRequest) -> HttpResponse:
        with lock:
            in_flight[0] += 1
            in_flight[1] = max(in_flight[1], in_flight[0])
        gate.wait(5)
        with lock:
            in_flight[0] -= 1
        return OK

    ep, fake, _ = make_endpoint(handler, limit=2)
    ep.cache = CallCache(tmp_path / "cache.db")
    ep.cache.put("cached", "judge", {"ok": "from cache"})
    threads = [threading.Thread(target=call, args=(ep,)) for _ in range(6)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    assert in_flight[0] == 2  # both slots are taken ...
    assert call(ep, key="cached").payload == {"ok": "from cache"}  # ... yet a hit answers
    gate.set()
    for t in threads:
        t.join(5)
    assert in_flight[1] == 2 and len(fake.requests) == 6
    ep.cache.close()


# -- the judge / chat client --------------------------------------------------------------------


def judge_cfg(max_retries: int = 2) -> JudgeConfig:
    return JudgeConfig(
        type="azure_openai",
        endpoint="https://res.openai.azure.test",
        deployment="gpt-4o",
        api_key=SecretStr(KEY),
        max_retries=max_retries,
        timeout_s=5,
    )


def fake_judge(request: ChatRequest) -> ChatAnswer:
    """The stub server's deterministic judge, in process."""
    text = json.dumps(judge_answer(last_user_text({"messages": request.messages})))
    return ChatAnswer(text, prompt_tokens=10, completion_tokens=3, finish_reason="stop")


def test_judge_client_calls_counts_and_logs_through_a_fake_transport(tmp_path: Path) -> None:
    fake: FakeTransport[ChatRequest, ChatAnswer] = FakeTransport(fake_judge)
    client = ChatClient(judge_cfg(), transport=fake)
    client.transcripts = TranscriptWriter(tmp_path / "t.jsonl")
    messages = [{"role": "user", "content": "Rate this. STUB_SCORE=4 \ud800"}]
    reply = client.chat(messages, {"temperature": 0}, {"evaluator": "rel", "line": 7})
    assert json.loads(reply.text)["score"] == 4 and reply.attempts == 1
    sent = fake.requests[0]
    assert sent.model == "gpt-4o" and sent.params == {"temperature": 0}
    assert sent.messages[0]["content"].endswith("\ufffd")  # a lone surrogate never travels
    assert client.stats.as_dict()["prompt_tokens"] == 10
    client.transcripts.close()
    record = json.loads((tmp_path / "t.jsonl").read_text())
    assert record["line"] == 7 and record["response"]["usage"]["completion_tokens"] == 3


def test_chat_failures_are_reported_per_role_without_the_key() -> None:
    def refuse(request: ChatRequest) -> ChatAnswer:
        raise StatusError(500, message=f"upstream failed for key {KEY}")

    for role in ("judge", "target"):
        client = ChatClient(judge_cfg(), role=role, transport=FakeTransport(refuse))
        client.remote.sleep = no_wait
        with pytest.raises(RowError) as info:
            client.chat([{"role": "user", "content": "hi"}], {})
        assert info.value.kind == f"{role}-http-500"
        assert info.value.message.startswith(f"{role} call failed: HTTP 500 after 3 attempts")
        assert KEY not in info.value.message


def mock_openai(handler: Any, token: Any = None) -> ChatClient:
    """A chat client over the real openai client, whose HTTP goes to ``handler``; with a
    ``token`` provider, Entra ID instead of the key."""
    cfg = judge_cfg(max_retries=1)
    conn = ChatConnection("azure_openai", cfg.endpoint, "gpt-4o", cfg.api_version, None, 5)
    transport = OpenAIChatTransport(
        conn,
        limit=2,
        api_key=None if token else KEY,
        token_provider=token,
        http_transport=httpx2.MockTransport(handler),
    )
    client = ChatClient(cfg, transport=transport)
    client.remote.sleep = no_wait
    return client


def completion(text: str) -> httpx2.Response:
    return httpx2.Response(
        200,
        json={
            "id": "c1",
            "object": "chat.completion",
            "created": 0,
            "model": "gpt-4o",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
        },
    )


def test_the_openai_transport_maps_statuses_retry_hints_and_codes() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        text = json.loads(request.content)["messages"][0]["content"]
        if text == "busy" and len(seen) % 2 == 1:
            body = {"error": {"code": "429", "message": "slow down"}}
            return httpx2.Response(429, json=body, headers={"retry-after-ms": "0"})
        if text == "filtered":
            body = {"error": {"code": "content_filter", "message": "flagged by the filter"}}
            return httpx2.Response(400, json=body)
        if text == "offline":
            raise httpx2.ConnectError("connection refused", request=request)
        return completion("fine")

    client = mock_openai(handler)
    reply = client.chat([{"role": "user", "content": "busy"}], {})
    assert reply.text == "fine" and reply.attempts == 2 and client.stats.retries == 1
    assert seen[0].url.path == "/openai/deployments/gpt-4o/chat/completions"
    assert seen[0].headers["api-key"] == KEY
    with pytest.raises(RowError, match="HTTP 400 after 1 attempt: flagged by the filter"):
        client.chat([{"role": "user", "content": "filtered"}], {})
    with pytest.raises(RowError) as info:
        client.chat([{"role": "user", "content": "offline"}], {})
    assert info.value.kind == "judge-connection-error"
    client.close()


def test_a_401_from_the_openai_client_stops_the_run() -> None:
    client = mock_openai(lambda req: httpx2.Response(401, json={"error": {"message": "no"}}))
    with pytest.raises(RemoteError) as info:
        client.chat([{"role": "user", "content": "hi"}], {})
    assert "judge azure_openai deployment 'gpt-4o'" in str(info.value)
    assert info.value.hint == "check the key (or Entra ID role assignment) for this endpoint"
    client.close()


def test_a_judge_without_an_entra_token_stops_the_run_at_once() -> None:
    def no_token() -> str:
        raise RuntimeError("DefaultAzureCredential failed to retrieve a token")

    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return completion("x")

    client = mock_openai(handler, token=no_token)
    with pytest.raises(RemoteError) as info:
        client.chat([{"role": "user", "content": "hi"}], {})
    assert "Microsoft Entra ID authentication failed" in str(info.value)
    assert "failed to retrieve a token" in str(info.value) and seen == []
    assert client.stats.retries == 0
    client.close()


def test_judged_evaluators_run_end_to_end_over_a_fake_transport(
    make_config: MakeConfig,
) -> None:
    cfg = make_config(
        """
        dataset: {path: data.jsonl}
        columns: {query: "${data.q}", response: "${data.a}"}
        judge: {type: azure_openai, endpoint: "https://res.test", deployment: gpt-4o,
                api_key: "k-123456"}
        evaluators: {relevance: {}, fluency: {threshold: 4}}
        """,
        [{"q": "q?", "a": "STUB_SCORE=5"}, {"q": "q?", "a": "STUB_SCORE=2"}],
    )
    plan = evalcli.validate(cfg)
    fake: FakeTransport[ChatRequest, ChatAnswer] = FakeTransport(fake_judge)
    for client in plan.services["clients"].clients.values():
        client.remote.transport = fake
    result = evalcli.run(plan, keep_rows=True, write_files=False)
    assert result.rows is not None and len(fake.requests) == 4
    assert [r["outputs.relevance.relevance"] for r in result.rows] == [5, 2]
    assert [r["outputs.fluency.fluency_result"] for r in result.rows] == ["pass", "fail"]
    totals = result.usage["total"]
    assert (totals["calls"], totals["prompt_tokens"], totals["completion_tokens"]) == (4, 40, 12)


# -- the HTTP target ------------------------------------------------------------------------------


def http_target(tmp_path: Path, handler: Handler) -> tuple[HttpTarget, FakeTransport[Any, Any]]:
    (tmp_path / "t.yaml").write_text(
        "dataset: {path: data.jsonl}\n"
        "target: {type: http, url: 'https://app.test/score?code=${env:APP_KEY}',"
        " headers: {Authorization: 'Bearer ${env:APP_KEY}'},"
        " body: {input: ['${data.q}'], n: '${data.n}'}, outputs: {answer: output.0},"
        " max_retries: 1}\n"
        "columns: {response: '${target.answer}', ground_truth: '${data.q}'}\n"
        "evaluators: {f1_score: {}}\n",
        encoding="utf-8",
    )
    write_jsonl(tmp_path / "data.jsonl", [{"q": "hi", "n": 3}])
    loaded = evalcli.load_config(tmp_path / "t.yaml", env={"APP_KEY": "app-secret"})
    assert isinstance(loaded.config.target, HttpTargetConfig)
    fake: FakeTransport[Any, Any] = FakeTransport(handler)
    target = HttpTarget(loaded.config.target, loaded, 4, transport=fake)
    target.remote.sleep = no_wait
    return target, fake


def test_http_target_builds_the_request_and_reads_the_outputs(tmp_path: Path) -> None:
    target, fake = http_target(
        tmp_path, script(error(503), HttpResponse.of(200, {"output": ["yo"]}))
    )
    target.cache = CallCache(tmp_path / "cache.db")
    assert target.call({"q": "hi", "n": 3}, 1) == {"answer": "yo"}
    sent = fake.requests[0]
    assert sent.url == "https://app.test/score?code=app-secret"
    assert json.loads(sent.content) == {"input": ["hi"], "n": 3}  # a lone reference keeps its type
    assert sent.headers["Authorization"] == "Bearer app-secret"
    assert target.call({"q": "hi", "n": 3}, 2) == {"answer": "yo"}  # from the cache
    assert target.usage() == {
        "calls": 1,
        "cache_hits": 1,
        "succeeded": 1,
        "failed": 0,
        "retries": 1,
    }
    target.close()


def test_http_target_failures(tmp_path: Path) -> None:
    target, _fake = http_target(tmp_path, script(HttpResponse.of(200, text="<html>")))
    with pytest.raises(RowError) as info:
        target.call({"q": "hi", "n": 1}, 1)
    assert info.value.kind == "target-bad-response"
    with pytest.raises(RowError, match="missing in this row"):
        target.call({"n": 1}, 2)

    target, _fake = http_target(tmp_path, script(error(500)))
    for _ in range(2):
        with pytest.raises(RowError) as info:
            target.call({"q": "hi", "n": 1}, 1)
        assert info.value.kind == "target-http-500"
    with pytest.raises(RemoteError) as stop:
        target.call({"q": "hi", "n": 1}, 1)
    assert str(stop.value).startswith("target http POST https://app.test/score: the first 3")
    assert (
        "app-secret" not in str(stop.value)
        and stop.value.hint == "check target.url and its credentials"
    )


# -- Content Safety ----------------------------------------------------------------------------


def safety_client(handler: Handler) -> tuple[ContentSafetyClient, FakeTransport[Any, Any]]:
    cfg = SafetyConfig(
        backend="azure_content_safety",
        endpoint="https://cs.test/",
        api_key=SecretStr(KEY),
        max_retries=1,
    )
    fake: FakeTransport[Any, Any] = FakeTransport(handler)
    client = ContentSafetyClient(cfg, transport=fake)
    client.remote.sleep = no_wait
    return client, fake


def cs_error(status: int, code: str) -> HttpResponse:
    return HttpResponse.of(status, {"error": {"code": code, "message": f"{code} for {KEY}"}})


def test_content_safety_requests_and_what_its_errors_mean() -> None:
    client, fake = safety_client(script(HttpResponse.of(200, {"categoriesAnalysis": []})))
    assert client.post("text:analyze", {"text": "x"}, api_version="v1") == {
        "categoriesAnalysis": []
    }
    sent = fake.requests[0]
    assert (sent.url, sent.params, sent.json) == (
        "https://cs.test/contentsafety/text:analyze",
        {"api-version": "v1"},
        {"text": "x"},
    )

    client, _ = safety_client(script(*[cs_error(400, "InvalidRequestBody")] * 4, OK))
    for _ in range(4):  # about the row's input: never stops the run
        with pytest.raises(RowError) as info:
            client.post("image:analyze", {}, api_version="v1")
        assert info.value.kind == "content-safety-http-400" and KEY not in info.value.message

    client, _ = safety_client(script(HttpResponse.of(200, text="[1, 2]")))
    with pytest.raises(RowError) as info:
        client.post("text:analyze", {}, api_version="v1")
    assert info.value.kind == "content-safety-bad-answer"
    assert info.value.extra == {"content_safety_raw_output": "[1, 2]"}

    for answer, reason in [
        (cs_error(404, "NotFound"), "text:analyze: the operation was not found"),
        (cs_error(400, "UnsupportedApiVersionValue"), "the service refuses the api-version"),
    ]:
        client, fake = safety_client(script(answer))
        with pytest.raises(RemoteError, match=reason):
            client.post("text:analyze", {}, api_version="v1")
        assert len(fake.requests) == 1  # fatal at once, never retried


def test_an_entra_token_that_cannot_be_had_stops_the_run() -> None:
    def no_token() -> str:
        raise RuntimeError("az login needed")

    transport = Httpx2Transport(
        timeout_s=5,
        limit=1,
        auth=bearer(no_token),
        http_transport=httpx2.MockTransport(lambda r: httpx2.Response(200)),
    )
    cfg = SafetyConfig(backend="azure_content_safety", endpoint="https://cs.test")
    client = ContentSafetyClient(cfg, transport=transport)
    with pytest.raises(RemoteError) as info:
        client.post("text:analyze", {}, api_version="v1")
    assert "Microsoft Entra ID authentication failed" in str(info.value)
    assert "az login needed" in str(info.value) and "az login" in (info.value.hint or "")
    client.close()
