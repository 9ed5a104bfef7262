"""The default chat transport: one ``openai`` client (Azure OpenAI or OpenAI) per endpoint.

Building an ``openai`` client (and its TLS context) per call is what makes the reference SDK
spend ~33 ms of CPU per judge call, so one client with a pooled httpx2 connection pool is
built on first use and shared by every thread. It never retries (``max_retries=0``): the
endpoint's policy does. Its exceptions become :mod:`evalcli.remote.failures` errors.

The client still decides the URL (Azure deployment paths, ``api-version``), the headers and
the authentication (key, Entra ID token), but each call goes through its lower-level
``post`` with a body serialised here and comes back as the raw HTTP response, read here:
``chat.completions.create`` spends about as much CPU again walking its ~40 typed
parameters and building pydantic models of the answer, for a request and an answer whose
shape we know (measured in docs/benchmarks.md, "The judge's hot path").
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from evalcli.remote.auth import TokenProvider, checked_token
from evalcli.remote.failures import (
    StatusError,
    TransportConnectionError,
    TransportError,
    TransportTimeoutError,
)
from evalcli.remote.transport import ChatAnswer, ChatRequest


@dataclass(frozen=True)
class ChatConnection:
    """Where and how to reach a chat deployment/model.

    Attributes:
        provider: ``azure_openai`` or ``openai`` (any OpenAI-compatible server).
        endpoint: Azure resource URL (azure_openai).
        deployment: Azure deployment (azure_openai).
        api_version: Azure API version (azure_openai).
        base_url: OpenAI-compatible base URL; None: api.openai.com (openai).
        timeout_s: Per-attempt timeout (connecting takes at most 10 s of it).
    """

    provider: Literal["azure_openai", "openai"]
    endpoint: str | None
    deployment: str | None
    api_version: str
    base_url: str | None
    timeout_s: float


class OpenAIChatTransport:
    """Chat completions through the ``openai`` client.

    Args:
        conn: The connection.
        limit: Connections kept in the pool (the endpoint's concurrency).
        api_key: The key, or None (Entra ID on Azure; no auth for local servers).
        token_provider: Entra ID bearer tokens (Azure without a key).
        http_transport: An httpx2 transport for the client (tests pass
            ``httpx2.MockTransport``); None: real connections.
    """

    def __init__(
        self,
        conn: ChatConnection,
        *,
        limit: int,
        api_key: str | None = None,
        token_provider: TokenProvider | None = None,
        http_transport: Any = None,
    ):
        self.conn = conn
        self.limit = limit
        self._api_key = api_key
        self._token_provider = token_provider
        self._http_transport = http_transport
        self._lock = threading.Lock()
        self._client: Any = None
        self._closed = False
        self._errors: tuple[type[Exception], type[Exception], type[Exception]] | None = None
        #: httpx2.Response: what ``post`` is asked to return (the answer, unparsed).
        self._raw: type[Any] | None = None

    def _openai(self) -> Any:
        """The client, built on first use: a run answered entirely from the cache never pays
        for importing openai and setting up its connection pool."""
        with self._lock:
            if self._closed:
                # A call still in flight when the run stopped: never open a new pool that
                # nobody would close (it would leak its sockets).
                raise TransportConnectionError("the client was closed: the run has stopped")
            if self._client is None:
                self._client = self._build()
            return self._client

    def _build(self) -> Any:
        import httpx2
        import openai

        conn, limit = self.conn, self.limit
        timeout = openai.Timeout(conn.timeout_s, connect=min(10.0, conn.timeout_s))
        extra: dict[str, Any] = {}
        if self._http_transport is not None:
            extra["transport"] = self._http_transport
        http = openai.DefaultHttpx2Client(
            limits=httpx2.Limits(max_connections=limit, max_keepalive_connections=limit),
            timeout=timeout,
            **extra,
        )
        self._errors = (openai.APIStatusError, openai.APITimeoutError, openai.APIConnectionError)
        self._raw = httpx2.Response
        common: dict[str, Any] = {"max_retries": 0, "http_client": http, "timeout": timeout}
        if conn.provider == "azure_openai":
            provider = self._token_provider
            return openai.AzureOpenAI(
                azure_endpoint=conn.endpoint or "",
                api_version=conn.api_version,
                azure_deployment=conn.deployment,
                api_key=self._api_key,
                # No token: the run stops (TokenUnavailableError), as for Content Safety.
                azure_ad_token_provider=(
                    (lambda: checked_token(provider))
                    if self._api_key is None and provider is not None
                    else None
                ),
                **common,
            )
        return openai.OpenAI(base_url=conn.base_url, api_key=self._api_key or "unused", **common)

    def send(self, request: ChatRequest) -> ChatAnswer:
        """One chat completion attempt.

        Raises:
            StatusError: an error status (with the body's error code and message).
            TransportTimeoutError: the attempt timed out.
            TransportConnectionError: no connection, or it broke.
        """
        client = self._openai()
        assert self._errors is not None
        status_error, timeout_error, connection_error = self._errors
        try:
            if plain_params(request.params):
                # The client's own request path (URL, headers, auth, error statuses as
                # exceptions) without ``create``'s parameter transform and answer model.
                body = request_body(request)
                response = client.post("/chat/completions", content=body, cast_to=self._raw)
                return read_completion(response.content)
            # Anything else (a plugin's unusual parameter) gets the SDK's own handling.
            completion = client.chat.completions.create(
                model=request.model, messages=request.messages, **request.params
            )
        except status_error as exc:
            code = getattr(exc, "code", None)
            raise StatusError(
                exc.status_code,  # type: ignore[attr-defined]
                code=code if isinstance(code, str) else None,
                message=_server_message(exc),
                headers=exc.response.headers,  # type: ignore[attr-defined]
            ) from exc
        except timeout_error as exc:  # before connection_error: it is a subclass
            raise TransportTimeoutError(str(exc)) from exc
        except connection_error as exc:
            raise TransportConnectionError(str(exc)) from exc
        choice = completion.choices[0] if completion.choices else None
        usage = completion.usage
        return ChatAnswer(
            text=(choice.message.content if choice is not None else None) or "",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            finish_reason=choice.finish_reason if choice is not None else None,
        )

    def close(self) -> None:
        """Release connections; later calls fail instead of opening new ones."""
        with self._lock:
            self._closed = True
            client, self._client = self._client, None
        if client is not None:
            client.close()


#: Sampling parameters that go into the body as they are (``create`` would not change them).
#: Any other key (``stream``, ``timeout``, ``extra_body``, a misspelt name) goes through
#: ``create``, which knows what it means or refuses it, as it always did.
PLAIN_PARAMS = frozenset(
    {
        "temperature",
        "max_tokens",
        "max_completion_tokens",
        "top_p",
        "seed",
        "stop",
        "presence_penalty",
        "frequency_penalty",
        "n",
        "user",
        "response_format",
    }
)


def plain_params(params: Mapping[str, Any]) -> bool:
    """Whether ``params`` can be sent as they are: known body fields, JSON values (a
    ``response_format`` given as a pydantic class needs ``create``'s conversion)."""
    return params.keys() <= PLAIN_PARAMS and isinstance(params.get("response_format", {}), dict)


def request_body(request: ChatRequest) -> bytes:
    """The JSON body ``chat.completions.create`` would send for ``request``.

    Serialised as the ``openai`` client serialises bodies (UTF-8, compact, no NaN); the
    messages and parameters are plain JSON already, so its parameter transform would leave
    them as they are.
    """
    payload = {"model": request.model, "messages": request.messages, **request.params}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def read_completion(content: bytes) -> ChatAnswer:
    """The first choice's text, its finish reason and the usage of a chat completion body.

    Absent or null fields read as the ``openai`` client's models read them: no text is
    ``""``, no usage is 0 tokens.

    Raises:
        TransportError: the body is not a chat completion (not retried: a row error).
    """
    try:
        data = json.loads(content)
        choices = data.get("choices") or []
        choice = choices[0] if choices else {}
        message = choice.get("message") or {}
        usage = data.get("usage") or {}
        return ChatAnswer(
            text=message.get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            finish_reason=choice.get("finish_reason"),
        )
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        raise TransportError(f"the answer is not a chat completion: {content[:200]!r}") from exc


def _server_message(exc: Any) -> str:
    """The service's own explanation from an error body (``error.message`` or its code)."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("code")
            if msg:
                return str(msg)[:300]
    return ""
