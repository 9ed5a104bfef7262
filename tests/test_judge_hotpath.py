"""The judge's hot path against the real loopback server: the chat transport sends its own
prebuilt body through the ``openai`` client's lower-level ``post`` and reads the answer
itself (issue 15). What the server receives and what the run reads must be what
``chat.completions.create`` would have sent and read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from pydantic import SecretStr

from evalcli.config import JudgeConfig
from evalcli.errors import RowError
from evalcli.judge.client import ChatClient
from evalcli.testing.stub_server import AZURE_CHAT, OPENAI_CHAT, Reply, StubServer

KEY = "sk-hotpath-secret-0123456789"
MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "Rate it. Réponds en JSON — «score» ✓"},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "Is 'naïve' spelt right? STUB_SCORE=4"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        ],
    },
]
PARAMS: dict[str, Any] = {
    "temperature": 0,
    "max_tokens": 800,
    "top_p": 0.5,
    "seed": 7,
    "response_format": {"type": "json_object"},
}


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer(api_key=KEY, models={"gpt-4o", "llama3.1"}) as srv:
        yield srv


def judge(stub: StubServer, provider: str) -> ChatClient:
    if provider == "azure_openai":
        cfg = JudgeConfig(
            type="azure_openai",
            endpoint=stub.url,
            deployment="gpt-4o",
            api_key=SecretStr(KEY),
            max_retries=2,
            timeout_s=5,
        )
    else:
        cfg = JudgeConfig(
            type="openai",
            base_url=f"{stub.url}/v1",
            model="llama3.1",
            api_key=SecretStr(KEY),
            max_retries=2,
            timeout_s=5,
        )
    client = ChatClient(cfg)
    client.remote.sleep = lambda seconds: None
    return client


def sdk_create(stub: StubServer, provider: str, api_version: str) -> Any:
    """The same call made the ordinary way, with ``chat.completions.create``."""
    sdk: Any
    if provider == "azure_openai":
        sdk = openai.AzureOpenAI(
            azure_endpoint=stub.url,
            azure_deployment="gpt-4o",
            api_version=api_version,
            api_key=KEY,
            max_retries=0,
        )
        model = "gpt-4o"
    else:
        sdk = openai.OpenAI(base_url=f"{stub.url}/v1", api_key=KEY, max_retries=0)
        model = "llama3.1"
    with sdk:
        return sdk.chat.completions.create(model=model, messages=MESSAGES, **PARAMS)


@pytest.mark.parametrize(
    ("provider", "route"), [("azure_openai", AZURE_CHAT), ("openai", OPENAI_CHAT)]
)
def test_the_server_gets_what_chat_completions_create_sends(
    stub: StubServer, provider: str, route: str
) -> None:
    client = judge(stub, provider)
    try:
        reply = client.chat(MESSAGES, PARAMS)
    finally:
        client.close()
    completion = sdk_create(stub, provider, client.cfg.api_version)
    ours, theirs = stub.requests
    assert ours.route == theirs.route == route
    assert (ours.method, ours.path, ours.query) == (theirs.method, theirs.path, theirs.query)
    assert ours.body == theirs.body  # same JSON (non-ASCII text and image parts included)
    for raw in (ours.raw_body, theirs.raw_body):  # UTF-8 on the wire, not \u escapes
        assert "Réponds".encode() in raw
    for header in ("api-key", "authorization", "content-type", "accept"):
        assert ours.headers.get(header) == theirs.headers.get(header), header
    # ...and the run reads what the SDK's models read.
    choice = completion.choices[0]
    assert reply.text == choice.message.content
    assert reply.finish_reason == choice.finish_reason
    assert completion.usage is not None
    assert (reply.prompt_tokens, reply.completion_tokens) == (
        completion.usage.prompt_tokens,
        completion.usage.completion_tokens,
    )
    assert reply.attempts == 1


@pytest.mark.parametrize(
    ("body", "text", "tokens", "finish"),
    [
        # a refusal or a tool call: no text
        (
            {
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": None},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 9, "completion_tokens": 0},
            },
            "",
            (9, 0),
            "stop",
        ),
        # a server that reports no usage
        (
            {"choices": [{"message": {"content": "{}"}, "finish_reason": "length"}]},
            "{}",
            (0, 0),
            "length",
        ),
        # no choice at all
        ({"choices": [], "usage": None}, "", (0, 0), None),
    ],
)
def test_sparse_answers_read_as_the_sdk_reads_them(
    stub: StubServer, body: dict[str, Any], text: str, tokens: tuple[int, int], finish: str | None
) -> None:
    stub.add_responder(lambda req: Reply(json=body), route=AZURE_CHAT)
    client = judge(stub, "azure_openai")
    try:
        reply = client.chat(MESSAGES, PARAMS)
    finally:
        client.close()
    assert (reply.text, (reply.prompt_tokens, reply.completion_tokens)) == (text, tokens)
    assert reply.finish_reason == finish


def test_an_answer_that_is_not_a_chat_completion_is_a_row_error_and_not_retried(
    stub: StubServer,
) -> None:
    stub.add_responder(
        lambda req: Reply(body="<html>gateway says hi</html>", content_type="text/html"),
        route=AZURE_CHAT,
    )
    client = judge(stub, "azure_openai")
    try:
        with pytest.raises(RowError) as info:
            client.chat(MESSAGES, PARAMS)
    finally:
        client.close()
    assert info.value.kind == "judge-call-error"
    assert "not a chat completion" in info.value.message
    assert len(stub.requests) == 1  # waiting would not make it one
    assert client.stats.as_dict()["failed"] == 1


def test_parameters_only_the_sdk_understands_still_go_through_it(stub: StubServer) -> None:
    """A plugin may pass ``extra_body`` (or a misspelt name) through ``Judge.chat``: those
    are not body fields to copy, so ``create`` handles them as it always did."""
    client = judge(stub, "openai")
    try:
        client.chat(MESSAGES, {"temperature": 0, "extra_body": {"top_k": 5}})
        with pytest.raises(RowError) as info:
            client.chat(MESSAGES, {"temprature": 0})
    finally:
        client.close()
    (sent,) = stub.requests  # the misspelt one never left the process
    assert sent.body["top_k"] == 5 and "extra_body" not in sent.body
    assert info.value.kind == "judge-call-error"
    assert "temprature" in info.value.message


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain ASCII, the built-in rubrics' text",
        "Réponds en JSON — «score» ✓",
        "an emoji 😀 is one code point, not a surrogate",
        "cut emoji \ud83d",
        "\ude00 low first",
        "a pair of code points \ud83d\ude00 in a str",
        "é" * 3000 + "\udfff",
    ],
)
def test_the_fast_surrogate_check_agrees_with_the_regex(text: str) -> None:
    """Every call's messages and cache key are checked for lone surrogates without the regex
    scan; the results must be exactly the regex's."""
    import json

    from evalcli.textsafe import (
        LONE_SURROGATE,
        REPLACEMENT,
        has_surrogate,
        json_text,
        replace_surrogates,
    )

    assert has_surrogate(text) == (LONE_SURROGATE.search(text) is not None)
    assert replace_surrogates({"m": [text]}) == {"m": [LONE_SURROGATE.sub(REPLACEMENT, text)]}
    escaped = LONE_SURROGATE.sub(
        lambda m: f"\\u{ord(m.group()):04x}", json.dumps(text, ensure_ascii=False)
    )
    assert json_text(text) == escaped


def test_a_run_in_a_longer_process_leaves_the_collector_as_it_found_it(
    stub: StubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``evalcli run`` freezes the start-up heap for the run (issue 15); a process that runs
    evaluations one after another (this test process, a notebook) must get it back unfrozen,
    or every run's leftover cycles would never be collected."""
    import gc

    from typer.testing import CliRunner

    from evalcli.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    (tmp_path / "data.jsonl").write_text('{"q": "Why? STUB_SCORE=4", "a": "Because."}\n')
    (tmp_path / "run.yaml").write_text(
        "dataset: {path: data.jsonl}\n"
        "columns: {query: ${data.q}, response: ${data.a}}\n"
        f"judge: {{type: openai, base_url: '{stub.url}/v1', model: llama3.1, "
        "api_key: ${env:OPENAI_API_KEY}}\n"
        "evaluators: {coherence: {}}\n"
        "output: {dir: out}\n"
    )
    assert gc.get_freeze_count() == 0
    result = CliRunner().invoke(app, ["run", "run.yaml", "-q", "--no-cache"])
    assert result.exit_code == 0, result.output
    assert gc.get_freeze_count() == 0
