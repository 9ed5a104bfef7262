"""Loopback HTTP stub of the services evalcli talks to, for tests, benchmarks and demos.

One :class:`StubServer` serves, on 127.0.0.1, with real HTTP/1.1 and keep-alive:

* OpenAI chat ``POST /v1/chat/completions`` (``Authorization: Bearer <key>``), Azure OpenAI chat
  ``POST /openai/deployments/{deployment}/chat/completions?api-version=…`` (``api-key`` or an
  Entra ``Bearer`` token) and the Azure "v1" form ``POST /openai/v1/chat/completions``;
* an Azure ML online endpoint ``POST /score`` (``Authorization: Bearer <key>``);
* the Azure AI Content Safety REST API (see :mod:`evalcli.testing.stub_content_safety`);
* a deliberately vulnerable application under test on the chat deployments ``vulnerable-app``
  and ``vulnerable-rag``, for red-teaming demos (see :mod:`evalcli.testing.stub_vulnerable`).

Every request is recorded (:class:`StubRequest`); answers are deterministic by default and can
be scripted per route and per model/deployment with responders (:mod:`evalcli.testing.stub_types`).
``GET /_stub/stats`` and ``POST /_stub/reset`` let a benchmark drive a stub running in another
process. Run ``python -m evalcli.testing.stub_server --port 0 --latency 0.2 --api-key KEY`` to
serve in the foreground; the base URL is the first line printed, followed by the ``export``
lines that point every sample config in ``configs/`` at the server (the offline demo, see
:mod:`evalcli.testing.stub_demo`).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Collection, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from evalcli.testing.stub_chat import default_judge, echo
from evalcli.testing.stub_content_safety import ContentSafetyLimits
from evalcli.testing.stub_demo import demo_exports
from evalcli.testing.stub_http import StubHTTPServer
from evalcli.testing.stub_routing import check_request, default_answer
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
        self._httpd: StubHTTPServer | None = None
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
            httpd = StubHTTPServer((self._host, self._port), self, self._backlog)
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
        refusal = check_request(
            req,
            api_key=self.api_key,
            bearer_tokens=self.bearer_tokens,
            models=self.models,
            azure_api_versions=self.azure_api_versions,
            limits=self.content_safety_limits,
        )
        if refusal is not None:
            return refusal, refusal
        for reg in self._registrations:
            if (reg.routes is None or req.route in reg.routes) and (
                reg.model is None or reg.model == req.model
            ):
                scripted = reg.responder(req)
                if scripted is not None:
                    if scripted.use_default:
                        return scripted, default_answer(req, self.chat_default)
                    return scripted, scripted
        answer = default_answer(req, self.chat_default)
        return answer, answer


# -- command line -------------------------------------------------------------------------------


def _parse_faults(spec: str) -> Responder:
    kwargs: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, _, value = item.partition("=")
        kwargs[name] = int(value) if name in ("seed", "transient_attempts") else float(value)
    return faults(**kwargs)


_EPILOG = """\
Offline demo: after the base URL (first line) the server prints `export` lines for every
environment variable the sample configs in configs/ use (endpoints, keys, the Azure ML
endpoint URL), pointing them at this server with its API key: test-key unless --api-key
says otherwise. Paste them into your shell, then e.g. `evalcli run configs/foundry-phi3.yaml`.
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Serve in the foreground until SIGINT/SIGTERM; print the base URL, then the demo exports."""
    parser = argparse.ArgumentParser(
        prog="python -m evalcli.testing.stub_server",
        description=__doc__.splitlines()[0],
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to answers")
    parser.add_argument(
        "--api-key",
        default="test-key",
        help="the API key every route expects (default: test-key; '' disables auth)",
    )
    parser.add_argument("--bearer-token", action="append", default=[], help="accepted token")
    parser.add_argument("--model", action="append", default=None, help="known model names")
    parser.add_argument(
        "--echo-model", action="append", default=[], help="answer this model with echo"
    )
    parser.add_argument(
        "--faults",
        default="",
        help="deterministic faults for all routes except --echo-model ones, e.g. "
        "rate_limit=0.3,server_error=0.1,malformed_answer=0.05,dropped=0.05,retry_after=0.1",
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
    # The URL stays alone on the first line: scripts (benchmarks, tests) read just that.
    print(srv.url)
    print("\n".join(demo_exports(srv.url, srv.api_key)))
    print("# Ctrl-C stops the server.", flush=True)
    try:
        while not done.wait(1.0):
            pass
    finally:
        srv.stop()
        print(f"stub server stopped after {srv.count()} requests", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
