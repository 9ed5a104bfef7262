"""The chat client of judges and chat targets (Azure OpenAI / OpenAI), over one endpoint.

One :class:`ChatClient` per distinct connection per run, shared by every thread. Its calls
go through an :class:`~evalcli.remote.endpoint.Endpoint`, which owns the retry policy,
health and fatal latch, statistics, error classification, concurrency limit and call
cache; the transport (by default the ``openai`` client, see
:mod:`evalcli.remote.openai_chat`) sits behind it. What is left here is what is specific
to chat: the messages, the cache key, the failure hints, and transcripts.

Failure handling (the endpoint's, see :mod:`evalcli.remote`):

* 401/403 stop the run (:class:`~evalcli.errors.RemoteError`, exit 3) at once.
* If the first calls of the run all fail after their retries (endpoint unreachable, unknown
  deployment), the run stops too, instead of failing every row one by one.
* Later, sporadic failures are row errors (:class:`~evalcli.errors.RowError`); a 400 from
  Azure's content filter is about the row's text and never stops the run.

Messages name the provider, endpoint and deployment/model — never the key.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from evalcli.cache import CallCache
from evalcli.config import JudgeConfig
from evalcli.remote.auth import TokenProvider, entra_token_provider
from evalcli.remote.client import EndpointClient
from evalcli.remote.endpoint import Endpoint, Payload
from evalcli.remote.failures import Classifier, TransportError
from evalcli.remote.policy import GiveUpError, RetryPolicy, Verdict
from evalcli.remote.stats import CallStats
from evalcli.remote.transport import ChatAnswer, ChatRequest, ChatTransport
from evalcli.textsafe import replace_surrogates

__all__ = [
    "ChatClassifier",
    "ChatClient",
    "ChatReply",
    "ClientPool",
    "PooledClient",
    "TranscriptWriter",
]


@dataclass(frozen=True)
class ChatReply:
    """One successful chat completion."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    attempts: int
    finish_reason: str | None = None
    cached: bool = False


class TranscriptWriter:
    """Appends every judge request and answer to a JSONL file (``--save-transcripts``)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("w", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, record: Mapping[str, Any]) -> None:
        """Write one record (thread-safe)."""
        line = json.dumps(record, ensure_ascii=False, default=str)
        with self._lock:
            self._fh.write(line + "\n")
            self._fh.flush()

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._fh.close()


class ChatClassifier(Classifier):
    """The endpoint's failure reports, with hints that name what to check for a chat model."""

    def fatal_hint(self, exc: BaseException, verdict: Verdict, kind: str) -> str:
        """Key for a refusal, URL and name for a 404, reachability otherwise."""
        if verdict == "fatal":
            return "check the key (or Entra ID role assignment) for this endpoint"
        if kind == "http-404":
            return "check the endpoint URL and the deployment/model name"
        return "check that the endpoint is reachable from this machine"


class ChatClient(EndpointClient):
    """Chat completions against one deployment/model, through one endpoint.

    Args:
        cfg: Connection and sampling settings.
        role: ``judge`` or ``target`` (for messages, error kinds and cache entries).
        token_provider: Entra ID bearer tokens (Azure only, when no key is configured).
        transcripts: Where to log every request/answer, if anywhere.
        concurrency: Calls in flight when ``cfg.concurrency`` is unset.
        transport: Sends the attempts; None: the ``openai`` client (tests pass a fake).
    """

    def __init__(
        self,
        cfg: JudgeConfig,
        *,
        role: str = "judge",
        token_provider: TokenProvider | None = None,
        transcripts: TranscriptWriter | None = None,
        concurrency: int = 8,
        transport: ChatTransport | None = None,
    ):
        self.cfg = cfg
        self.role = role
        self.transcripts = transcripts
        secret = cfg.api_key.get_secret_value() if cfg.api_key else None
        limit = cfg.concurrency or concurrency
        if transport is None:
            transport = self._default_transport(secret, token_provider, limit)
        self.remote: Endpoint[ChatRequest, ChatAnswer] = Endpoint(
            self.label,
            transport,
            policy=RetryPolicy(max_retries=cfg.max_retries, max_total_s=cfg.max_retry_time_s),
            classifier=ChatClassifier(timeout_s=cfg.timeout_s, secret=secret),
            limit=limit,
            row_kind=role,
            cache_kind=role,
        )

    def _default_transport(
        self, secret: str | None, token_provider: TokenProvider | None, limit: int
    ) -> ChatTransport:
        from evalcli.remote.openai_chat import ChatConnection, OpenAIChatTransport

        cfg = self.cfg
        if cfg.type == "azure_openai" and secret is None and token_provider is None:
            # Fails now (exit 2), before any call, if azure-identity is absent.
            token_provider = entra_token_provider(f"{self.role}.api_key is not set")
        conn = ChatConnection(
            provider=cfg.type,
            endpoint=cfg.endpoint,
            deployment=cfg.deployment,
            api_version=cfg.api_version,
            base_url=cfg.base_url,
            timeout_s=cfg.timeout_s,
        )
        return OpenAIChatTransport(conn, limit=limit, api_key=secret, token_provider=token_provider)

    def cache_key(
        self, messages: list[dict[str, Any]], params: Mapping[str, Any], prompt_sha: Any
    ) -> str:
        """What determines an answer: provider, endpoint host, model, parameters, messages,
        prompt file hash (never the key, the alias or the row number)."""
        from urllib.parse import urlsplit

        from evalcli.cache import cache_key

        return cache_key(
            {
                "kind": "chat",
                "provider": self.cfg.type,
                "host": urlsplit(self.cfg.location).netloc,
                "model": self.cfg.model_name,
                "api_version": self.cfg.api_version if self.cfg.type == "azure_openai" else None,
                "params": dict(params),
                "messages": messages,
                "prompt_sha256": prompt_sha,
            }
        )

    @property
    def label(self) -> str:
        """``judge azure_openai deployment 'gpt-4o' at https://...`` (no secrets)."""
        what = "deployment" if self.cfg.type == "azure_openai" else "model"
        return f"{self.role} {self.cfg.type} {what} {self.cfg.model_name!r} at {self.cfg.location}"

    def scrub(self, text: str) -> str:
        """Remove anything that could be the key from a message."""
        return self.remote.classifier.scrub(text)

    def chat(
        self,
        messages: list[dict[str, Any]],
        params: Mapping[str, Any],
        meta: Mapping[str, Any] | None = None,
    ) -> ChatReply:
        """One chat completion (or its answer from the call cache), retried per policy.

        Raises:
            RemoteError: the endpoint refuses us or is down (the run must stop).
            RowError: this call failed (the row records the error).
        """
        # A model API takes UTF-8 text: a lone surrogate from the data becomes U+FFFD.
        messages = replace_surrogates(messages)
        key = None
        if self.remote.cache is not None:
            key = self.cache_key(messages, params, (meta or {}).get("prompt_sha256"))
        started = time.time()

        def gave_up(gu: GiveUpError) -> None:
            self._record(messages, params, meta, started, None, gu)

        result = self.remote.call(
            ChatRequest(self.cfg.model_name, messages, params),
            ChatAnswer.payload,
            what=f"{self.role} call",
            key=key,
            tokens=_tokens,
            on_give_up=gave_up if self.transcripts is not None else None,
        )
        answer = result.payload
        reply = ChatReply(
            text=answer["text"],
            prompt_tokens=answer["prompt_tokens"],
            completion_tokens=answer["completion_tokens"],
            attempts=result.attempts,
            finish_reason=answer.get("finish_reason"),
            cached=result.cached,
        )
        self._record(messages, params, meta, started, reply, None)
        return reply

    def _record(
        self,
        messages: list[dict[str, Any]],
        params: Mapping[str, Any],
        meta: Mapping[str, Any] | None,
        started: float,
        reply: ChatReply | None,
        gu: GiveUpError | None,
    ) -> None:
        if self.transcripts is None:
            return
        record: dict[str, Any] = {
            "time": started,
            "client": self.label,
            **(meta or {}),
            "request": {"model": self.cfg.model_name, "messages": messages, **params},
        }
        if reply is not None:
            record["response"] = {
                "content": reply.text,
                "finish_reason": reply.finish_reason,
                "usage": {
                    "prompt_tokens": reply.prompt_tokens,
                    "completion_tokens": reply.completion_tokens,
                },
            }
            record["attempts"] = reply.attempts
            record["cached"] = reply.cached
        if gu is not None:
            # The library's own exception says more than our transport-neutral wrapper.
            error = gu.error.original if isinstance(gu.error, TransportError) else gu.error
            record["error"] = self.scrub(f"{type(error).__name__}: {error}")
            record["attempts"] = gu.attempts
        self.transcripts.write(record)


def _tokens(answer: Payload) -> tuple[int, int]:
    return int(answer["prompt_tokens"]), int(answer["completion_tokens"])


class PooledClient(Protocol):
    """Another run-scoped client the pool reports and closes (e.g. Content Safety)."""

    #: The run's call cache, set by :meth:`ClientPool.attach` (None: no cache).
    cache: CallCache | None

    @property
    def label(self) -> str:
        """Name for the usage table (no secrets)."""

    @property
    def stats(self) -> CallStats:
        """Call counters."""

    def close(self) -> None:
        """Release connections."""


@dataclass
class ClientPool:
    """Shares one :class:`ChatClient` per distinct connection config within a run.

    ``others`` holds further run-scoped clients (Content Safety) so that their calls appear
    in the usage totals and their connections are closed with the pool.
    """

    transcripts: TranscriptWriter | None = None
    concurrency: int = 8
    token_provider: TokenProvider | None = None
    clients: dict[tuple[str, JudgeConfig], ChatClient] = field(default_factory=dict)
    others: list[PooledClient] = field(default_factory=list)

    def get(self, cfg: JudgeConfig, role: str = "judge") -> ChatClient:
        """The client for ``cfg`` (created on first use)."""
        key = (role, cfg)
        client = self.clients.get(key)
        if client is None:
            client = ChatClient(
                cfg,
                role=role,
                token_provider=self.token_provider,
                transcripts=self.transcripts if role == "judge" else None,
                concurrency=self.concurrency,
            )
            self.clients[key] = client
        return client

    def attach(self, transcripts: TranscriptWriter | None, cache: CallCache | None) -> None:
        """Start logging judge calls and/or answering from the cache (at run start)."""
        self.transcripts = transcripts
        for client in self.clients.values():
            client.cache = cache
            if client.role == "judge":
                client.transcripts = transcripts
        for other in self.others:
            other.cache = cache

    def usage(self) -> dict[str, dict[str, int]]:
        """Counters per client label."""
        return {c.label: c.stats.as_dict() for c in (*self.clients.values(), *self.others)}

    def close(self) -> None:
        """Close every client and the transcript file."""
        for c in (*self.clients.values(), *self.others):
            c.close()
        if self.transcripts is not None:
            self.transcripts.close()
