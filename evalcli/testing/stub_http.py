"""HTTP plumbing of the loopback stub server: a threaded HTTP/1.1 server and its handler.

The handler reads a request, asks its backend (the :class:`~evalcli.testing.stub_server.
StubServer`) what to answer, waits the scripted latency and writes the answer — or drops the
connection. It is kept lean because benchmarks run hundreds of requests per second through it.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from evalcli.testing.stub_routing import model_of, render, route_of
from evalcli.testing.stub_types import Reply, StubRequest

__all__ = ["StubBackend", "StubHTTPServer"]

_MAX_BODY_BYTES = 64 * 1024 * 1024
_JSON = [("Content-Type", "application/json")]


class StubBackend(Protocol):
    """What the handler needs from the server that owns it."""

    latency_s: float
    _stopping: threading.Event

    def _track(self, conn: socket.socket, *, add: bool) -> None: ...
    def _record(self, **fields: Any) -> StubRequest: ...
    def _dispatch(self, req: StubRequest) -> tuple[Reply, Reply]: ...
    def _finish(self, req: StubRequest, code: int | None) -> bool: ...
    def stats(self) -> dict[str, Any]: ...
    def reset(self) -> None: ...


class StubHTTPServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` with daemon threads, a large backlog and a backend."""

    daemon_threads = True  # a stalled handler must never keep the interpreter alive
    block_on_close = False
    allow_reuse_address = True  # restart on the same port right after stop()

    def __init__(self, address: tuple[str, int], backend: StubBackend, backlog: int) -> None:
        # The listen backlog is read in server_activate(), during super().__init__.
        self.request_queue_size = backlog
        self.backend = backend
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients pool their connections
    server_version = "evalcli-stub"
    disable_nagle_algorithm = True  # small JSON answers must not wait for delayed ACKs
    timeout = 300  # idle keep-alive connections eventually free their thread
    server: StubHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: per-request logging would cost CPU and flood test output."""

    def setup(self) -> None:
        super().setup()
        self.server.backend._track(self.connection, add=True)

    def finish(self) -> None:
        self.server.backend._track(self.connection, add=False)
        # The client (or stop()) may already have closed the socket.
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _read_body(self) -> bytes | None:
        """The request body (``None`` when larger than the cap)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            size = 0
            while True:
                line = self.rfile.readline(1024)
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                size += n
                if size > _MAX_BODY_BYTES:
                    return None
                chunks.append(self.rfile.read(n))
                self.rfile.readline(8)
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY_BYTES:
            return None
        return self.rfile.read(length) if length else b""

    def _write(self, status_code: int, headers: Sequence[tuple[str, str]], body: bytes) -> None:
        reason = self.responses.get(status_code, ("Unknown",))[0]
        head = [f"HTTP/1.1 {status_code} {reason}", f"Server: {self.server_version}"]
        head.extend(f"{k}: {v}" for k, v in headers)
        head.append(f"Content-Length: {len(body)}")
        if self.close_connection:
            head.append("Connection: close")
        # One write for head and body: two small writes on one socket can stall on Nagle +
        # delayed ACK, and one syscall is cheaper anyway.
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _serve(self) -> None:
        backend = self.server.backend
        try:
            raw = self._read_body()
        except (OSError, ValueError):
            self._drop()
            return
        if raw is None:
            self.close_connection = True
            self._write(413, _JSON, b'{"error":{"code":"413","message":"Body too large"}}')
            return
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        if path.startswith("/_stub/"):
            self._admin(path)
            return
        route, deployment = route_of(path)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = backend._record(
            method=self.command,
            path=path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers=headers,
            body=body,
            raw_body=raw,
            route=route,
            model=model_of(route, deployment, body, headers),
        )
        finished = False
        try:
            scripted, answer = backend._dispatch(req)
            wait = backend.latency_s + scripted.delay_s + scripted.stall_s
            # Event.wait instead of sleep: stop() wakes every waiting handler at once.
            if (wait > 0 and backend._stopping.wait(wait)) or scripted.drop:
                finished = backend._finish(req, None)
                self._drop()
                return
            code, out_headers, payload = render(req, answer)
            # Record before writing: once the client has the answer, the record is complete.
            finished = backend._finish(req, code)
            try:
                self._write(code, out_headers, payload)
            except OSError:
                self.close_connection = True  # the client gave up (e.g. its timeout fired)
        finally:
            if not finished:
                backend._finish(req, None)

    def _admin(self, path: str) -> None:
        """Unrecorded control endpoints for a stub running in another process."""
        backend = self.server.backend
        if path == "/_stub/stats":
            self._write(200, _JSON, json.dumps(backend.stats()).encode())
        elif path == "/_stub/reset" and self.command == "POST":
            backend.reset()
            self._write(200, _JSON, b'{"reset":true}')
        else:
            self._write(404, _JSON, b'{"error":{"code":"404","message":"Resource not found"}}')
