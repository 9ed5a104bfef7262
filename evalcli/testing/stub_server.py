"""Loopback HTTP stub of the services evalcli talks to, for tests, benchmarks and demos.

One :class:`StubServer` serves, on 127.0.0.1, with real HTTP/1.1 and keep-alive:

* OpenAI chat ``POST /v1/chat/completions`` (``Authorization: Bearer <key>``), Azure OpenAI chat
  ``POST /openai/deployments/{deployment}/chat/completions?api-version=…`` (``api-key`` or an
  Entra ``Bearer`` token) and the Azure "v1" form ``POST /openai/v1/chat/completions``;
* an Azure ML online endpoint ``POST /score`` (``Authorization: Bearer <key>``);
* the Azure AI Content Safety REST API (see :mod:`evalcli.testing.stub_content_safety`).

Every request is recorded (:class:`StubRequest`); answers are deterministic by default and can
be scripted per route and per model/deployment with responders (:mod:`evalcli.testing.stub_types`).
``GET /_stub/stats`` and ``POST /_stub/reset`` let a benchmark drive a stub running in another
process. Run ``python -m evalcli.testing.stub_server --port 0 --latency 0.2 --api-key KEY`` to
serve in the foreground; the base URL is the first line printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Collection, Hashable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from evalcli.testing import stub_chat, stub_content_safety
from evalcli.testing.stub_chat import default_judge, echo
from evalcli.testing.stub_content_safety import ContentSafetyLimits
from evalcli.testing.stub_types import (
    AML_SCORE,
    AZURE_CHAT,
    AZURE_V1_CHAT,
    CHAT_ROUTES,
    CONTENT_SAFETY_ROUTES,
    CS_GROUNDEDNESS,
    CS_IMAGE_ANALYZE,
    CS_PROTECTED_MATERIAL,
    CS_SHIELD_PROMPT,
    CS_TEXT_ANALYZE,
    OPENAI_CHAT,
    Reply,
    Responder,
    RouteFilter,
    StubRequest,
    drop,
    error_reply,
    faults,
    malformed,
    request_key,
    sequence,
    stall,
    status,
)

__all__ = [
    "AML_SCORE",
    "AZURE_CHAT",
    "AZURE_V1_CHAT",
    "CHAT_ROUTES",
    "CONTENT_SAFETY_ROUTES",
    "CS_GROUNDEDNESS",
    "CS_IMAGE_ANALYZE",
    "CS_PROTECTED_MATERIAL",
    "CS_SHIELD_PROMPT",
    "CS_TEXT_ANALYZE",
    "OPENAI_CHAT",
    "ContentSafetyLimits",
    "Reply",
    "Responder",
    "StubRequest",
    "StubServer",
    "default_judge",
    "drop",
    "echo",
    "faults",
    "main",
    "malformed",
    "request_key",
    "sequence",
    "stall",
    "status",
]

_EXACT_ROUTES = {
    "/v1/chat/completions": OPENAI_CHAT,
    "/openai/v1/chat/completions": AZURE_V1_CHAT,
    "/score": AML_SCORE,
    "/contentsafety/text:analyze": CS_TEXT_ANALYZE,
    "/contentsafety/image:analyze": CS_IMAGE_ANALYZE,
    "/contentsafety/text:detectProtectedMaterial": CS_PROTECTED_MATERIAL,
    "/contentsafety/text:shieldPrompt": CS_SHIELD_PROMPT,
    "/contentsafety/text:detectGroundedness": CS_GROUNDEDNESS,
}
_AZURE_DEPLOYMENT_RE = re.compile(r"^/openai/deployments/([^/]+)/chat/completions$")
_MAX_BODY_BYTES = 64 * 1024 * 1024
_RESOURCE_NOT_FOUND = error_reply(404, "404", "Resource not found")

# Azure's key error starts with this sentence; clients and people grep for it.
_AZURE_KEY_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Check that the key "
    "belongs to an active resource and that the endpoint is the resource's own."
)
_AZURE_TOKEN_DENIED = (
    "Unauthorized. The access token is missing, invalid, expired, or issued for another "
    "audience (expected https://cognitiveservices.azure.com)."
)


def _route_of(path: str) -> tuple[str, str | None]:
    """(route name, deployment from the path or None) for a URL path."""
    route = _EXACT_ROUTES.get(path)
    if route is not None:
        return route, None
    match = _AZURE_DEPLOYMENT_RE.match(path)
    if match:
        return AZURE_CHAT, match.group(1)
    return "unknown", None


@dataclass(frozen=True)
class _Registration:
    routes: frozenset[str] | None
    model: str | None
    responder: Responder
    order: int

    @property
    def rank(self) -> tuple[int, int]:
        # Model-specific beats route-specific beats global; among equals, newest first.
        return (-(2 * (self.model is not None) + (self.routes is not None)), -self.order)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a stalled handler must never keep the interpreter alive
    block_on_close = False
    allow_reuse_address = True  # restart on the same port right after stop()

    def __init__(self, address: tuple[str, int], stub: StubServer, backlog: int) -> None:
        # The listen backlog is read in server_activate(), during super().__init__.
        self.request_queue_size = backlog
        self.stub = stub
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients pool their connections
    server_version = "evalcli-stub"
    disable_nagle_algorithm = True  # small JSON answers must not wait for delayed ACKs
    timeout = 300  # idle keep-alive connections eventually free their thread
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: per-request logging would cost CPU and flood test output."""

    def setup(self) -> None:
        super().setup()
        self.server.stub._track(self.connection, add=True)

    def finish(self) -> None:
        self.server.stub._track(self.connection, add=False)
        # The client (or stop()) may already have closed the socket.
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    # -- plumbing -------------------------------------------------------------------------

    def _read_body(self) -> bytes | None:
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
        stub = self.server.stub
        try:
            raw = self._read_body()
        except (OSError, ValueError):
            self._drop()
            return
        if raw is None:
            self.close_connection = True
            self._write(413, [("Content-Type", "application/json")], b'{"error":"too large"}')
            return
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        if path.startswith("/_stub/"):
            self._admin(path)
            return
        route, deployment = _route_of(path)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        if route in (OPENAI_CHAT, AZURE_V1_CHAT):
            model = body.get("model") if isinstance(body, dict) else None
            model = model if isinstance(model, str) else None
        elif route == AML_SCORE:
            model = headers.get("azureml-model-deployment")
        else:
            model = deployment
        req = stub._record(
            method=self.command,
            path=path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers=headers,
            body=body,
            raw_body=raw,
            route=route,
            model=model,
        )
        finished = False
        try:
            scripted, answer = stub._dispatch(req)
            wait = stub.latency_s + scripted.delay_s + scripted.stall_s
            # Event.wait instead of sleep: stop() wakes every waiting handler at once.
            if (wait > 0 and stub._stopping.wait(wait)) or scripted.drop:
                finished = stub._finish(req, None)
                self._drop()
                return
            code, out_headers, payload = stub._render(req, answer)
            # Record before writing: once the client has the answer, the record is complete.
            finished = stub._finish(req, code)
            try:
                self._write(code, out_headers, payload)
            except OSError:
                self.close_connection = True  # the client gave up (e.g. its timeout fired)
        finally:
            if not finished:
                stub._finish(req, None)

    def _admin(self, path: str) -> None:
        stub = self.server.stub
        if path == "/_stub/stats":
            payload = json.dumps(stub.stats()).encode()
        elif path == "/_stub/reset" and self.command == "POST":
            stub.reset()
            payload = b'{"reset":true}'
        else:
            self._write(404, [("Content-Type", "application/json")], b'{"error":"not found"}')
            return
        self._write(200, [("Content-Type", "application/json")], payload)


class StubServer:
    """A threaded loopback HTTP server speaking the OpenAI / Azure / Content Safety protocols.

    Use it as a context manager (``with StubServer(api_key="k") as srv: ... srv.url``) or with
    :meth:`start` / :meth:`stop` (both idempotent; a stopped server can start again on the
    same port, e.g. to simulate an outage).

    Args:
        api_key: the key every route expects (``None`` turns authentication off).
        bearer_tokens: extra ``Authorization: Bearer`` tokens accepted on the Azure routes,
            Azure ML ``/score`` and Content Safety (Microsoft Entra ID tests).
        models: known model / deployment names; others get 404 (``DeploymentNotFound`` on
            Azure, ``model_not_found`` on OpenAI). ``None`` accepts any name.
        azure_api_versions: api-versions the Azure OpenAI route accepts (default: any
            ``YYYY-MM-DD[-preview]``); a missing or unknown one gets Azure's 404.
        latency_s: artificial latency of every answer (mutable attribute ``latency_s``).
        chat_default: default chat answer (default: the deterministic judge; use
            :func:`~evalcli.testing.stub_chat.echo` for a target-style deployment).
        content_safety_limits: input limits enforced on the Content Safety routes.
        host, port: where to listen (default 127.0.0.1 and a free port).
        backlog: listen backlog; large so bursts of new connections are never refused.
    """

    def __init__(
        self,
        *,
        api_key: str | None = "test-key",
        bearer_tokens: Collection[str] = (),
        models: Collection[str] | None = None,
        azure_api_versions: Collection[str] | None = None,
        latency_s: float = 0.0,
        chat_default: Responder = default_judge,
        content_safety_limits: ContentSafetyLimits | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        backlog: int = 1024,
    ) -> None:
        self.api_key = api_key
        self.bearer_tokens = frozenset(bearer_tokens)
        self.models = frozenset(models) if models is not None else None
        self.azure_api_versions = (
            frozenset(azure_api_versions) if azure_api_versions is not None else None
        )
        self.latency_s = latency_s
        self.chat_default = chat_default
        self.content_safety_limits = content_safety_limits or ContentSafetyLimits()
        self._host = host
        self._port = port
        self._backlog = backlog
        self._lifecycle = threading.Lock()
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._requests: list[StubRequest] = []
        self._registrations: tuple[_Registration, ...] = ()
        self._order = 0
        self._in_flight = 0
        self._max_in_flight = 0

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> StubServer:
        """Bind and serve in a background thread (no-op when already running)."""
        with self._lifecycle:
            if self._httpd is not None:
                return self
            self._stopping.clear()
            httpd = _HTTPServer((self._host, self._port), self, self._backlog)
            self._port = httpd.server_address[1]
            self._thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": 0.02},
                name=f"stub-server:{self._port}",
                daemon=True,
            )
            self._httpd = httpd
            self._thread.start()
            return self

    def stop(self) -> None:
        """Stop serving, close open connections and wake stalled handlers (idempotent)."""
        with self._lifecycle:
            httpd, thread = self._httpd, self._thread
            if httpd is None:
                return
            self._httpd = self._thread = None
            self._stopping.set()
            httpd.shutdown()
            httpd.server_close()
            with self._lock:
                conns = list(self._connections)
            for conn in conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            if thread is not None:
                thread.join(timeout=5)

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (known once started)."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT`` (no trailing slash)."""
        if self._httpd is None:
            raise RuntimeError("StubServer is not running; call start() first")
        return f"http://{self._host}:{self._port}"

    # -- scripting ----------------------------------------------------------------------------

    def add_responder(
        self, responder: Responder, *, route: RouteFilter = None, model: str | None = None
    ) -> None:
        """Register ``responder`` for a route (name or collection) and/or model/deployment.

        Lookup order: model-specific, then route-specific, then global registrations; among
        equals the newest first. The first non-``None`` :class:`Reply` is used. Requests are
        validated (auth, api-version, deployment, body, limits) before responders see them.
        """
        routes = None if route is None else frozenset([route] if isinstance(route, str) else route)
        with self._lock:
            self._order += 1
            reg = _Registration(routes, model, responder, self._order)
            self._registrations = tuple(sorted((*self._registrations, reg), key=lambda r: r.rank))

    def script(
        self,
        *replies: Reply | None,
        route: RouteFilter = None,
        model: str | None = None,
        key: Callable[[StubRequest], Hashable] = request_key,
        then: Reply | None = None,
    ) -> None:
        """Shortcut for ``add_responder(sequence(*replies, key=key, then=then), ...)``."""
        self.add_responder(sequence(*replies, key=key, then=then), route=route, model=model)

    def clear_responders(self) -> None:
        """Forget every registered responder."""
        with self._lock:
            self._registrations = ()

    # -- records ------------------------------------------------------------------------------

    @property
    def requests(self) -> list[StubRequest]:
        """Snapshot list of the recorded requests, in arrival order."""
        with self._lock:
            return list(self._requests)

    def count(
        self, route: RouteFilter = None, model: str | None = None, status: int | None = None
    ) -> int:
        """Number of recorded requests matching route (name or collection), model and status."""
        routes = None if route is None else frozenset([route] if isinstance(route, str) else route)
        return sum(
            1
            for r in self.requests
            if (routes is None or r.route in routes)
            and (model is None or r.model == model)
            and (status is None or r.status == status)
        )

    def reset(self) -> None:
        """Forget recorded requests and the in-flight peak (responders stay registered)."""
        with self._lock:
            self._requests = []
            self._max_in_flight = self._in_flight

    @property
    def in_flight(self) -> int:
        """Requests read but not yet answered."""
        return self._in_flight

    @property
    def max_in_flight(self) -> int:
        """Peak of :attr:`in_flight` since start or :meth:`reset`."""
        return self._max_in_flight

    def stats(self) -> dict[str, Any]:
        """Counters for benchmarks (also served at ``GET /_stub/stats``)."""
        by_route: dict[str, int] = {}
        for r in self.requests:
            by_route[r.route] = by_route.get(r.route, 0) + 1
        return {
            "requests": sum(by_route.values()),
            "by_route": by_route,
            "in_flight": self._in_flight,
            "max_in_flight": self._max_in_flight,
            "cpu_s": time.process_time(),
        }

    # -- internals used by the handler --------------------------------------------------------

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _record(self, **fields: Any) -> StubRequest:
        with self._lock:
            req = StubRequest(index=len(self._requests), started_at=time.monotonic(), **fields)
            self._requests.append(req)
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        return req

    def _finish(self, req: StubRequest, code: int | None) -> bool:
        req.status = code
        req.finished_at = time.monotonic()
        with self._lock:
            self._in_flight -= 1
        return True

    def _dispatch(self, req: StubRequest) -> tuple[Reply, Reply]:
        """(scripted reply for timing/drop, reply whose body is sent)."""
        if req.route == "unknown":
            return _RESOURCE_NOT_FOUND, _RESOURCE_NOT_FOUND
        if req.method != "POST":
            not_allowed = error_reply(405, "405", f"{req.method} is not supported on {req.path}")
            return not_allowed, not_allowed
        refusal = self._check(req)
        if refusal is not None:
            return refusal, refusal
        for reg in self._registrations:
            if (reg.routes is None or req.route in reg.routes) and (
                reg.model is None or reg.model == req.model
            ):
                scripted = reg.responder(req)
                if scripted is not None:
                    if scripted.use_default:
                        return scripted, self._default(req)
                    return scripted, scripted
        answer = self._default(req)
        return answer, answer

    def _check(self, req: StubRequest) -> Reply | None:
        route = req.route
        if route == AZURE_CHAT:
            # Azure routes requests by api-version before anything else: no or an unknown
            # version is a plain 404, whatever the key.
            version = req.query.get("api-version", "")
            ok = (
                version in self.azure_api_versions
                if self.azure_api_versions is not None
                else re.fullmatch(r"\d{4}-\d{2}-\d{2}(-preview)?", version) is not None
            )
            if not ok:
                return _RESOURCE_NOT_FOUND
        refusal = self._check_auth(req)
        if refusal is not None:
            return refusal
        if route in CONTENT_SAFETY_ROUTES:
            return stub_content_safety.check_api_version(
                route, req
            ) or stub_content_safety.validate(route, req, self.content_safety_limits)
        if route == AML_SCORE:
            return stub_chat.validate_score(req)
        invalid = stub_chat.validate_chat(req)
        if invalid is not None:
            return invalid
        if self.models is not None and req.model not in self.models:
            if route == OPENAI_CHAT:
                return error_reply(
                    404,
                    "model_not_found",
                    f"The model `{req.model}` does not exist or you do not have access to it.",
                    error_type="invalid_request_error",
                )
            return error_reply(
                404,
                "DeploymentNotFound",
                "The API deployment for this resource does not exist. A deployment created "
                "in the last few minutes may not be reachable yet.",
            )
        return None

    def _check_auth(self, req: StubRequest) -> Reply | None:
        key = self.api_key
        if key is None:
            return None
        auth = req.headers.get("authorization", "")
        bearer = auth[7:] if auth[:7].lower() == "bearer " else None
        route = req.route
        if route == OPENAI_CHAT:
            if bearer == key:
                return None
            if not bearer:
                message = "No API key was provided; send it as 'Authorization: Bearer <key>'."
                return error_reply(401, None, message, error_type="invalid_request_error")
            masked = bearer[:3] + "*" * max(0, len(bearer) - 7) + bearer[-4:]
            return error_reply(
                401,
                "invalid_api_key",
                f"Incorrect API key provided: {masked}.",
                error_type="invalid_request_error",
            )
        if route == AML_SCORE:
            if bearer is not None and (bearer == key or bearer in self.bearer_tokens):
                return None
            return error_reply(
                401, "Unauthorized", "A valid key or token is required in 'Authorization'."
            )
        header = "ocp-apim-subscription-key" if route in CONTENT_SAFETY_ROUTES else "api-key"
        supplied = req.headers.get(header)
        if supplied is not None:
            return None if supplied == key else error_reply(401, "401", _AZURE_KEY_DENIED)
        # The Azure v1 API also takes the key as a bearer token (what OpenAI() sends).
        if bearer is not None and (
            bearer in self.bearer_tokens or (route == AZURE_V1_CHAT and bearer == key)
        ):
            return None
        if bearer is not None:
            return error_reply(401, "401", _AZURE_TOKEN_DENIED)
        return error_reply(401, "401", _AZURE_KEY_DENIED)

    def _default(self, req: StubRequest) -> Reply:
        if req.route in CHAT_ROUTES:
            return self.chat_default(req) or default_judge(req)
        if req.route == AML_SCORE:
            return Reply(content=stub_chat.score_output(req))
        return stub_content_safety.answer(req.route, req)

    def _render(self, req: StubRequest, reply: Reply) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = [("x-request-id", f"stub-{req.index}")]
        content_type = reply.content_type
        if reply.content is not None:
            if req.route in CHAT_ROUTES:
                payload = json.dumps(
                    stub_chat.chat_completion(req, reply.content, finish_reason=reply.finish_reason)
                ).encode()
            elif req.route == AML_SCORE:
                payload = json.dumps({"output": reply.content}).encode()
            else:
                payload = reply.content.encode()
                content_type = "text/plain; charset=utf-8"
        elif reply.json is not None:
            payload = json.dumps(reply.json).encode()
        elif reply.body is not None:
            payload = reply.body.encode() if isinstance(reply.body, str) else reply.body
        else:
            payload = b""
        headers.append(("Content-Type", content_type))
        headers.extend(reply.headers.items())
        return reply.status, headers, payload


# -- command line -------------------------------------------------------------------------------


def _parse_faults(spec: str) -> Responder:
    kwargs: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, _, value = item.partition("=")
        kwargs[name] = int(value) if name in ("seed", "transient_attempts") else float(value)
    return faults(**kwargs)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve in the foreground until SIGINT/SIGTERM; print the base URL first."""
    parser = argparse.ArgumentParser(
        prog="python -m evalcli.testing.stub_server", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to answers")
    parser.add_argument("--api-key", default="test-key", help="expected key ('' disables auth)")
    parser.add_argument("--bearer-token", action="append", default=[], help="accepted token")
    parser.add_argument("--model", action="append", default=None, help="known model names")
    parser.add_argument(
        "--echo-model", action="append", default=[], help="answer this model with echo"
    )
    parser.add_argument(
        "--faults",
        default="",
        help="e.g. rate_limit=0.3,server_error=0.1,malformed_answer=0.05,dropped=0.05",
    )
    args = parser.parse_args(argv)
    srv = StubServer(
        api_key=args.api_key or None,
        bearer_tokens=args.bearer_token,
        models=args.model,
        latency_s=args.latency,
        host=args.host,
        port=args.port,
    )
    for name in args.echo_model:
        srv.add_responder(echo, route=CHAT_ROUTES, model=name)
    if args.faults:
        srv.add_responder(_parse_faults(args.faults))
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    srv.start()
    print(srv.url, flush=True)
    try:
        while not done.wait(1.0):
            pass
    finally:
        srv.stop()
        print(f"stub server stopped after {srv.count()} requests", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
