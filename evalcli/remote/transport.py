"""The transport interface: one attempt of one request, and nothing else.

An :class:`~evalcli.remote.endpoint.Endpoint` owns everything around an attempt (retries,
health, statistics, cache, concurrency); a transport only sends. Two kinds exist:

* chat: :class:`ChatRequest` -> :class:`ChatAnswer`, by default over the ``openai`` client
  (:class:`~evalcli.remote.openai_chat.OpenAIChatTransport`);
* plain HTTP: :class:`HttpRequest` -> :class:`HttpResponse` (any status), by default over
  httpx2 (:class:`~evalcli.remote.http.Httpx2Transport`).

A failed attempt raises a :class:`~evalcli.remote.failures.TransportError`. Calls run on
threads (one per call in flight): measured with httpx2 at concurrency 30 and 100, a thread per
call costs less CPU than the same calls on an asyncio event loop (docs/benchmarks.md, issue
15). Moving calls onto an event loop would mean an async twin of this protocol and of
``Endpoint.call``; the clients' request building and answer parsing would stay as they are.
:class:`FakeTransport` answers in process, for tests (as httpx's ``MockTransport`` does).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

Req = TypeVar("Req")
Resp = TypeVar("Resp")
Req_contra = TypeVar("Req_contra", contravariant=True)
Resp_co = TypeVar("Resp_co", covariant=True)


class Transport(Protocol[Req_contra, Resp_co]):
    """Sends one request; thread-safe; raises a ``TransportError`` when the attempt failed."""

    def send(self, request: Req_contra) -> Resp_co:
        """Make one attempt."""

    def close(self) -> None:
        """Release connections."""


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion request.

    Attributes:
        model: Deployment (Azure) or model name.
        messages: OpenAI-style chat messages.
        params: Sampling parameters (``temperature``, ``max_tokens``, ``response_format``...).
    """

    model: str
    messages: list[dict[str, Any]]
    params: Mapping[str, Any]


@dataclass(frozen=True)
class ChatAnswer:
    """What a chat completion returned: the first choice's text and the usage."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None

    def payload(self) -> dict[str, Any]:
        """The JSON form kept in the call cache."""
        return {
            "text": self.text,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "finish_reason": self.finish_reason,
        }


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request.

    Attributes:
        method: ``POST``, ``GET``...
        url: The full URL (query parameters may also go in ``params``).
        headers: Request headers (the transport may add authentication).
        content: A raw body, or None.
        json: A body the transport serialises as JSON (when ``content`` is None), or None.
        params: Query parameters, or None.
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes | None = None
    json: Any = None
    params: Mapping[str, str] | None = None


@dataclass(frozen=True)
class HttpResponse:
    """An HTTP answer, whatever its status (the client decides what an error is)."""

    status: int
    headers: Mapping[str, str]
    content: bytes
    text: str

    def json(self) -> Any:
        """The body parsed as JSON (raises ValueError if it is not)."""
        return json.loads(self.content)

    @classmethod
    def of(
        cls,
        status: int,
        body: Any = None,
        *,
        text: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """A response carrying ``body`` as JSON (or ``text`` as is): for fakes and tests."""
        if text is None:
            text = "" if body is None else json.dumps(body)
        lowered = {k.lower(): v for k, v in (headers or {}).items()}
        return cls(status, lowered, text.encode("utf-8", "surrogatepass"), text)


class FakeTransport(Generic[Req, Resp]):
    """A transport that answers in process with ``handler(request)``.

    The handler returns the answer or raises a ``TransportError`` (a
    :class:`~evalcli.remote.failures.StatusError`, say), exactly as a real transport would.
    Every request is kept in :attr:`requests`, in order.

    Args:
        handler: Computes the answer to one request.
    """

    def __init__(self, handler: Callable[[Req], Resp]):
        self.handler = handler
        self.requests: list[Req] = []
        self.closed = False
        self._lock = threading.Lock()

    def send(self, request: Req) -> Resp:
        """Record ``request`` and answer it with the handler."""
        with self._lock:
            self.requests.append(request)
        return self.handler(request)

    def close(self) -> None:
        """Remember that the owner released the transport."""
        self.closed = True


#: A chat transport (the judge client and chat targets use one).
ChatTransport = Transport[ChatRequest, ChatAnswer]
#: A plain HTTP transport (HTTP targets and Content Safety use one).
HttpTransport = Transport[HttpRequest, HttpResponse]
