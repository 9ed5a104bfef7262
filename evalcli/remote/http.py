"""The default plain-HTTP transport: one pooled httpx2 client per endpoint.

httpx2 is the HTTP library the openai client already brings. Every status comes back as an
:class:`~evalcli.remote.transport.HttpResponse` (the client decides what an error is);
timeouts and broken connections become :mod:`evalcli.remote.failures` errors.
"""

from __future__ import annotations

import threading
from typing import Any

from evalcli.remote.auth import Auth
from evalcli.remote.failures import TransportConnectionError, TransportTimeoutError
from evalcli.remote.transport import HttpRequest, HttpResponse


class Httpx2Transport:
    """HTTP requests through one keep-alive connection pool.

    Args:
        timeout_s: Per-attempt timeout (connecting takes at most 10 s of it).
        limit: Connections kept in the pool (the endpoint's concurrency).
        auth: Headers that authenticate each attempt (a key, a fresh bearer token), if any.
        http_transport: An httpx2 transport (tests pass ``httpx2.MockTransport``); None:
            real connections.
    """

    def __init__(
        self,
        *,
        timeout_s: float,
        limit: int,
        auth: Auth | None = None,
        http_transport: Any = None,
    ):
        self.timeout_s = timeout_s
        self.limit = limit
        self._auth = auth
        self._http_transport = http_transport
        self._lock = threading.Lock()
        self._client: Any = None
        self._closed = False

    def _httpx(self) -> Any:
        # Built on first use: a run answered from the cache opens no connection pool.
        with self._lock:
            if self._closed:
                # A call still in flight when the run stopped: never open a new pool that
                # nobody would close (it would leak its sockets).
                raise TransportConnectionError("the client was closed: the run has stopped")
            if self._client is None:
                import httpx2

                extra: dict[str, Any] = {}
                if self._http_transport is not None:
                    extra["transport"] = self._http_transport
                self._client = httpx2.Client(
                    timeout=httpx2.Timeout(self.timeout_s, connect=min(10.0, self.timeout_s)),
                    limits=httpx2.Limits(
                        max_connections=self.limit, max_keepalive_connections=self.limit
                    ),
                    **extra,
                )
            return self._client

    def send(self, request: HttpRequest) -> HttpResponse:
        """One attempt; any status is an answer.

        Raises:
            TransportTimeoutError: the attempt timed out.
            TransportConnectionError: no connection, or it broke.
            TokenUnavailableError: ``auth`` could not get a token.
        """
        import httpx2

        client = self._httpx()
        headers = dict(request.headers)
        if self._auth is not None:
            headers.update(self._auth())
        try:
            response = client.request(
                request.method,
                request.url,
                content=request.content,
                json=request.json,
                params=request.params,
                headers=headers,
            )
        except httpx2.TimeoutException as exc:
            raise TransportTimeoutError(str(exc)) from exc
        except httpx2.TransportError as exc:
            raise TransportConnectionError(str(exc)) from exc
        return HttpResponse(response.status_code, response.headers, response.content, response.text)

    def close(self) -> None:
        """Release connections; later calls fail instead of opening new ones."""
        with self._lock:
            self._closed = True
            client, self._client = self._client, None
        if client is not None:
            client.close()
