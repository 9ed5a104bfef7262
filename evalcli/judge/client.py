"""A shared, thread-safe chat client for judges and chat targets (Azure OpenAI / OpenAI).

One :class:`ChatClient` per distinct connection per run, shared by every thread: building an
``openai`` client (and its TLS context) per call is what makes the reference SDK spend ~33 ms
of CPU per judge call. Retries are ours (:mod:`evalcli.judge.retry`); the openai client is built
with ``max_retries=0``.

Failure handling:

* 401/403 stop the run (:class:`~evalcli.errors.RemoteError`, exit 3) at once.
* If the first calls of the run all fail after their retries (endpoint unreachable, unknown
  deployment), the run stops too, instead of failing every row one by one.
* Later, sporadic failures are row errors (:class:`~evalcli.errors.RowError`).

Messages name the provider, endpoint and deployment/model — never the key.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from evalcli.cache import CallCache
from evalcli.config import JudgeConfig
from evalcli.errors import RemoteError, ResourceError, RowError
from evalcli.judge.retry import (
    EndpointHealth,
    GiveUpError,
    RetryPolicy,
    Verdict,
    call_with_retries,
    retry_after_s,
    status_verdict,
)
from evalcli.textsafe import replace_surrogates

#: After this many calls failed (after retries) with no success yet, the endpoint is broken.
FIRST_CALLS_FATAL = 3
ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"

TokenProvider = Callable[[], str]


@dataclass(frozen=True)
class ChatReply:
    """One successful chat completion."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    attempts: int
    finish_reason: str | None = None
    cached: bool = False


@dataclass
class ClientStats:
    """Counters for the run summary (guarded by the client's lock)."""

    calls: int = 0
    cache_hits: int = 0
    succeeded: int = 0
    failed: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def as_dict(self) -> dict[str, int]:
        """JSON-ready counters."""
        return dict(self.__dict__)


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


def entra_token_provider() -> TokenProvider:
    """A bearer-token provider from azure-identity's DefaultAzureCredential.

    Raises:
        ResourceError: azure-identity is not installed.
    """
    try:
        from azure.identity import DefaultAzureCredential, get_bearer_token_provider
    except ImportError:
        raise ResourceError(
            "judge.api_key is not set, so Microsoft Entra ID would be used, but azure-identity "
            "is not installed",
            hint="pip install 'evalcli[entra]' (or set api_key: ${env:AZURE_OPENAI_API_KEY})",
        ) from None
    provider: TokenProvider = get_bearer_token_provider(DefaultAzureCredential(), ENTRA_SCOPE)
    return provider


class ChatClient:
    """Chat completions against one deployment/model, with our retry policy.

    Args:
        cfg: Connection and sampling settings.
        role: ``judge`` or ``target`` (for messages).
        token_provider: Entra ID bearer tokens (Azure only, when no key is configured).
        transcripts: Where to log every request/answer, if anywhere.
    """

    def __init__(
        self,
        cfg: JudgeConfig,
        *,
        role: str = "judge",
        token_provider: TokenProvider | None = None,
        transcripts: TranscriptWriter | None = None,
        concurrency: int = 8,
    ):
        self.cfg = cfg
        self.role = role
        self.transcripts = transcripts
        self.cache: CallCache | None = None
        self.policy = RetryPolicy(max_retries=cfg.max_retries, max_total_s=cfg.max_retry_time_s)
        self.stats = ClientStats()
        self._lock = threading.Lock()
        self._fatal: RemoteError | None = None
        self.health = EndpointHealth(self.label, FIRST_CALLS_FATAL)
        self._secret = cfg.api_key.get_secret_value() if cfg.api_key else None
        limit = self.limit = cfg.concurrency or concurrency
        self._slots = threading.BoundedSemaphore(limit)
        if cfg.type == "azure_openai" and self._secret is None and token_provider is None:
            token_provider = (
                entra_token_provider()
            )  # fails now (exit 2) if azure-identity is absent
        self._token_provider = token_provider
        self._client_obj: Any = None

    @property
    def _client(self) -> Any:
        """The ``openai`` client, built on first use: a run answered entirely from the cache
        never pays for importing openai and setting up its connection pool."""
        with self._lock:
            if self._client_obj is None:
                self._client_obj = self._build_client()
            return self._client_obj

    def _build_client(self) -> Any:
        import httpx2
        import openai

        cfg, limit = self.cfg, self.limit
        http = openai.DefaultHttpx2Client(
            limits=httpx2.Limits(max_connections=limit, max_keepalive_connections=limit),
            timeout=openai.Timeout(cfg.timeout_s, connect=min(10.0, cfg.timeout_s)),
        )
        common: dict[str, Any] = {
            "max_retries": 0,
            "http_client": http,
            "timeout": openai.Timeout(cfg.timeout_s, connect=min(10.0, cfg.timeout_s)),
        }
        if cfg.type == "azure_openai":
            return openai.AzureOpenAI(
                azure_endpoint=cfg.endpoint or "",
                api_version=cfg.api_version,
                azure_deployment=cfg.deployment,
                api_key=self._secret,
                azure_ad_token_provider=None if self._secret else self._token_provider,
                **common,
            )
        return openai.OpenAI(base_url=cfg.base_url, api_key=self._secret or "unused", **common)

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
        """``azure_openai deployment 'gpt-4o' at https://...`` (no secrets)."""
        what = "deployment" if self.cfg.type == "azure_openai" else "model"
        return f"{self.role} {self.cfg.type} {what} {self.cfg.model_name!r} at {self.cfg.location}"

    def scrub(self, text: str) -> str:
        """Remove anything that could be the key from a message."""
        # Very short "keys" (local servers that ignore auth) would mangle every word.
        if self._secret and len(self._secret) >= 6:
            text = text.replace(self._secret, "***")
        return re.sub(r"\bsk-[A-Za-z0-9*_\-]{6,}", "sk-***", text)

    def chat(
        self,
        messages: list[dict[str, Any]],
        params: Mapping[str, Any],
        meta: Mapping[str, Any] | None = None,
    ) -> ChatReply:
        """One chat completion, retried per policy.

        Raises:
            RemoteError: the endpoint refuses us or is down (the run must stop).
            RowError: this call failed (the row records the error).
        """
        if self._fatal is not None:
            raise self._fatal
        # A model API takes UTF-8 text: a lone surrogate from the data becomes U+FFFD.
        messages = replace_surrogates(messages)
        key = None
        if self.cache is not None:
            key = self.cache_key(messages, params, (meta or {}).get("prompt_sha256"))
            hit = self.cache.get(key)
            if hit is not None:
                reply = ChatReply(
                    text=hit["text"],
                    prompt_tokens=hit["prompt_tokens"],
                    completion_tokens=hit["completion_tokens"],
                    attempts=0,
                    finish_reason=hit.get("finish_reason"),
                    cached=True,
                )
                with self._lock:
                    self.stats.cache_hits += 1
                self._record(messages, params, meta, time.time(), reply, None)
                return reply
        with self._slots:
            reply = self._chat(messages, params, meta)
        if self.cache is not None and key is not None:
            # Stored even if the text later fails to parse: parsing is deterministic.
            self.cache.put(
                key,
                self.role,
                {
                    "text": reply.text,
                    "prompt_tokens": reply.prompt_tokens,
                    "completion_tokens": reply.completion_tokens,
                    "finish_reason": reply.finish_reason,
                },
            )
        return reply

    def _chat(
        self,
        messages: list[dict[str, Any]],
        params: Mapping[str, Any],
        meta: Mapping[str, Any] | None,
    ) -> ChatReply:
        model = self.cfg.model_name
        started = time.time()

        def attempt() -> Any:
            return self._client.chat.completions.create(
                model=model,
                messages=messages,
                **params,
            )

        def on_retry(exc: BaseException, wait: float) -> None:
            with self._lock:
                self.stats.retries += 1

        try:
            completion, attempts = call_with_retries(attempt, self.policy, self._classify, on_retry)
        except GiveUpError as gu:
            self._record(messages, params, meta, started, None, gu)
            raise self._failure(gu) from None
        choice = completion.choices[0] if completion.choices else None
        text = (choice.message.content if choice is not None else None) or ""
        usage = completion.usage
        reply = ChatReply(
            text=text,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            attempts=attempts,
            finish_reason=choice.finish_reason if choice is not None else None,
        )
        self.health.success()
        with self._lock:
            self.stats.calls += 1
            self.stats.succeeded += 1
            self.stats.prompt_tokens += reply.prompt_tokens
            self.stats.completion_tokens += reply.completion_tokens
        self._record(messages, params, meta, started, reply, None)
        return reply

    def _classify(self, exc: BaseException) -> tuple[Verdict, float | None]:
        import openai

        if isinstance(exc, openai.APIStatusError):
            code = getattr(exc, "code", None)
            verdict = status_verdict(exc.status_code, code if isinstance(code, str) else None)
            return verdict, retry_after_s(exc.response.headers) if verdict == "retry" else None
        if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError):
            return "retry", None
        return "fail", None

    def _failure(self, gu: GiveUpError) -> RemoteError | RowError:
        import openai

        exc = gu.error
        tries = f" after {gu.attempts} attempt{'s' if gu.attempts != 1 else ''}"
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            detail = self.scrub(_server_message(exc))
            kind = f"http-{status}"
            message = f"HTTP {status}{tries}" + (f": {detail}" if detail else "")
        elif isinstance(exc, openai.APITimeoutError):
            kind, message = "timeout", f"timed out{tries} (timeout_s={self.cfg.timeout_s:g})"
        elif isinstance(exc, openai.APIConnectionError):
            kind, message = "connection-error", f"connection failed{tries}: {self.scrub(str(exc))}"
        else:
            kind, message = "call-error", f"{type(exc).__name__}{tries}: {self.scrub(str(exc))}"
        with self._lock:
            self.stats.calls += 1
            self.stats.failed += 1
        # Azure refuses texts its content filter flags with a 400: that is about this row's
        # data (often the very thing a safety evaluation feeds it), not about the endpoint.
        filtered = getattr(exc, "code", None) == "content_filter"
        why = self.health.failure(gu.verdict, data_specific=filtered)
        if why is not None:
            with self._lock:
                if self._fatal is None:
                    self._fatal = RemoteError(
                        f"{self.label}: {why} ({message})", hint=_fatal_hint(gu.verdict, kind)
                    )
                return self._fatal
        return RowError(f"{self.role}-{kind}", f"{self.role} call failed: {message}")

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
            record["error"] = self.scrub(f"{type(gu.error).__name__}: {gu.error}")
            record["attempts"] = gu.attempts
        self.transcripts.write(record)

    def close(self) -> None:
        """Release connections."""
        if self._client_obj is not None:
            self._client_obj.close()


def _server_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("code")
            if msg:
                return str(msg)[:300]
    return ""


def _fatal_hint(verdict: Verdict, kind: str) -> str:
    if verdict == "fatal":
        return "check the key (or Entra ID role assignment) for this endpoint"
    if kind == "http-404":
        return "check the endpoint URL and the deployment/model name"
    return "check that the endpoint is reachable from this machine"


class PooledClient(Protocol):
    """Another run-scoped client the pool reports and closes (e.g. Content Safety)."""

    #: The run's call cache, set by :meth:`ClientPool.attach` (None: no cache).
    cache: CallCache | None

    @property
    def label(self) -> str:
        """Name for the usage table (no secrets)."""

    @property
    def stats(self) -> ClientStats:
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
