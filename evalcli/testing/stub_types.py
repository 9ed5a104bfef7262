"""Recorded requests, scripted replies and responder helpers of the loopback stub server.

A *responder* is any ``Callable[[StubRequest], Reply | None]``. The server asks the responders
registered for a request's route / model in turn; the first :class:`Reply` wins, ``None`` means
"no opinion, use the default behaviour". The helpers here build the common scripts:
:func:`status`, :func:`malformed`, :func:`drop`, :func:`stall`, :func:`sequence` and
:func:`faults`.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import zlib
from collections.abc import Callable, Collection, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

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
    "Reply",
    "Responder",
    "RouteFilter",
    "StubRequest",
    "drop",
    "error_reply",
    "faults",
    "malformed",
    "request_key",
    "sequence",
    "stall",
    "status",
]

# Route names, as recorded in StubRequest.route and used to register responders.
OPENAI_CHAT = "openai_chat"  # POST /v1/chat/completions
AZURE_CHAT = "azure_chat"  # POST /openai/deployments/{deployment}/chat/completions
AZURE_V1_CHAT = "azure_v1_chat"  # POST /openai/v1/chat/completions (Azure "v1" API)
AML_SCORE = "aml_score"  # POST /score (Azure ML online endpoint)
CS_TEXT_ANALYZE = "cs_text_analyze"  # POST /contentsafety/text:analyze
CS_IMAGE_ANALYZE = "cs_image_analyze"  # POST /contentsafety/image:analyze
CS_PROTECTED_MATERIAL = "cs_protected_material"  # POST /contentsafety/text:detectProtectedMaterial
CS_SHIELD_PROMPT = "cs_shield_prompt"  # POST /contentsafety/text:shieldPrompt
CS_GROUNDEDNESS = "cs_groundedness"  # POST /contentsafety/text:detectGroundedness

CHAT_ROUTES: frozenset[str] = frozenset({OPENAI_CHAT, AZURE_CHAT, AZURE_V1_CHAT})
CONTENT_SAFETY_ROUTES: frozenset[str] = frozenset(
    {CS_TEXT_ANALYZE, CS_IMAGE_ANALYZE, CS_PROTECTED_MATERIAL, CS_SHIELD_PROMPT, CS_GROUNDEDNESS}
)

RouteFilter = str | Collection[str] | None
"""A route name, a collection of route names (e.g. :data:`CHAT_ROUTES`) or ``None`` (any)."""


@dataclass
class StubRequest:
    """One request as the stub server received it (and, once answered, how it answered).

    ``finished_at`` and ``status`` are filled in by the server when the answer has been
    written; ``status`` stays ``None`` for a dropped connection.
    """

    index: int
    """0-based arrival order since the server started (or since :meth:`reset`)."""
    method: str
    path: str
    """URL path without the query string, percent-decoded."""
    query: dict[str, str]
    headers: dict[str, str]
    """Request headers with lower-cased names."""
    body: Any
    """Parsed JSON body, or ``None`` when the body is empty or not JSON."""
    raw_body: bytes
    route: str
    """Route name (one of the module constants) or ``"unknown"``."""
    model: str | None
    """Model (OpenAI), deployment (Azure OpenAI, Azure ML header) or ``None``."""
    started_at: float
    """``time.monotonic()`` when the request had been read."""
    finished_at: float | None = None
    status: int | None = None

    @property
    def kind(self) -> str:
        """Alias of :attr:`route` (the kind of call: ``openai_chat``, ``cs_text_analyze``...)."""
        return self.route

    @property
    def duration_s(self) -> float | None:
        """Seconds from arrival to answer (``None`` while in flight)."""
        return None if self.finished_at is None else self.finished_at - self.started_at


@dataclass(frozen=True)
class Reply:
    """A scripted answer.

    Exactly one of ``content``, ``json`` and ``body`` is normally set; with none of them the
    reply carries an empty body.

    * ``content`` is the *answer text*: on chat routes it becomes the assistant message of a
      complete ChatCompletion (with usage), on ``/score`` the ``output`` field, elsewhere a
      plain-text body.
    * ``json`` is sent as the whole JSON body, unchanged.
    * ``body`` is sent as raw bytes (``str`` is UTF-8 encoded) with ``content_type``.
    """

    status: int = 200
    content: str | None = None
    json: Any = None
    body: bytes | str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    finish_reason: str = "stop"
    delay_s: float = 0.0
    """Extra latency on top of the server's ``latency_s``."""
    stall_s: float = 0.0
    """Hang this long before answering (longer than the client's timeout → client timeout)."""
    drop: bool = False
    """Close the connection without answering (after the delays)."""
    use_default: bool = False
    """Ignore the body fields and answer with the route's default behaviour (after the delays):
    ``Reply(delay_s=2.0, use_default=True)`` slows a route down without changing its answers."""


Responder = Callable[[StubRequest], Reply | None]


def error_reply(
    status_code: int,
    code: str | None,
    message: str,
    *,
    error_type: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Reply:
    """A JSON error in the ``{"error": {"code", "message", ...}}`` envelope.

    Azure OpenAI, OpenAI and Azure AI Content Safety all wrap errors in a top-level
    ``error`` object; ``type``/``param`` (OpenAI) are added when ``error_type`` is given and
    ``extra`` keys (e.g. Content Safety's ``target``/``details``) are merged in.
    """
    err: dict[str, Any] = {"code": code, "message": message}
    if error_type is not None:
        err["type"] = error_type
        err["param"] = None
    err.update(extra)
    return Reply(status=status_code, json={"error": err}, headers=dict(headers or {}))


_STATUS_TEXT = {
    400: ("invalid_request_error", "Bad request (scripted by the stub)."),
    401: ("invalid_request_error", "Unauthorized (scripted by the stub)."),
    403: ("invalid_request_error", "Forbidden (scripted by the stub)."),
    404: ("invalid_request_error", "Not found (scripted by the stub)."),
    408: ("timeout", "Request timed out (scripted by the stub)."),
    409: ("conflict", "Conflict (scripted by the stub)."),
    429: (
        "rate_limit_exceeded",
        "Requests have exceeded the rate limit of the stub. Retry after the delay it gives.",
    ),
    500: ("server_error", "The stub had an internal error (scripted)."),
    502: ("server_error", "Bad gateway (scripted by the stub)."),
    503: ("server_error", "The stub is temporarily unavailable (scripted)."),
}


def status(
    status_code: int,
    *,
    retry_after: float | None = None,
    retry_after_header: Literal["both", "seconds", "ms"] = "both",
    code: str | None = None,
    message: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    """An error reply with a JSON body shaped like the services' (``{"error": {...}}``).

    ``retry_after`` (seconds) sets ``Retry-After`` (seconds, possibly fractional — the openai
    client accepts floats) and/or ``retry-after-ms``, as ``retry_after_header`` says; Azure
    OpenAI sends both on 429. ``code`` defaults to the status number as a string, which is
    what Azure OpenAI puts there.
    """
    error_type, default_message = _STATUS_TEXT.get(
        status_code, ("error", f"HTTP {status_code} (scripted by the stub).")
    )
    all_headers = dict(headers or {})
    if retry_after is not None:
        if retry_after_header in ("both", "seconds"):
            all_headers["Retry-After"] = _format_seconds(retry_after)
        if retry_after_header in ("both", "ms"):
            all_headers["retry-after-ms"] = str(round(retry_after * 1000))
    return error_reply(
        status_code,
        code if code is not None else str(status_code),
        message if message is not None else default_message,
        error_type=error_type,
        headers=all_headers,
    )


def _format_seconds(seconds: float) -> str:
    # Integral values are sent the standard way ("2"); fractional ones as a decimal ("0.1").
    return str(int(seconds)) if float(seconds).is_integer() else repr(float(seconds))


DEFAULT_MALFORMED_TEXT = "I would rate this response as quite good, maybe a four out of five."
"""Judge text without any JSON object in it (no braces), so a lenient parser finds nothing."""


def malformed(text: str = DEFAULT_MALFORMED_TEXT) -> Reply:
    """A 200 answer whose content is ``text`` (default: prose with no JSON object in it)."""
    return Reply(content=text)


def drop(delay_s: float = 0.0) -> Reply:
    """Close the connection without answering (after ``delay_s``)."""
    return Reply(drop=True, delay_s=delay_s)


def stall(seconds: float, then: Reply | None = None) -> Reply:
    """Hang ``seconds`` before answering; the answer is ``then`` or the default behaviour."""
    if then is None:
        return Reply(stall_s=seconds, use_default=True)
    return dataclasses.replace(then, stall_s=seconds)


def request_key(req: StubRequest) -> Hashable:
    """Identity of a *logical* request: route, model and a digest of the canonical JSON body.

    Retries of one call (by the openai client or by a tenacity policy) resend the same body,
    so they share a key, while different rows or evaluators get different keys. Headers are
    left out on purpose: retries change ``x-stainless-retry-count`` and similar.
    """
    if req.body is not None:
        canon = json.dumps(req.body, sort_keys=True, separators=(",", ":")).encode()
    else:
        canon = req.raw_body
    return (req.route, req.model, zlib.crc32(canon), len(canon))


class _AttemptCounter:
    """Thread-safe per-key attempt numbers (0 for the first attempt of a key)."""

    def __init__(self, key: Callable[[StubRequest], Hashable]) -> None:
        self._key = key
        self._lock = threading.Lock()
        self._counts: dict[Hashable, int] = {}

    def next(self, req: StubRequest) -> tuple[Hashable, int]:
        k = self._key(req)
        with self._lock:
            n = self._counts.get(k, 0)
            self._counts[k] = n + 1
        return k, n


def sequence(
    *replies: Reply | None,
    key: Callable[[StubRequest], Hashable] = request_key,
    then: Reply | None = None,
) -> Responder:
    """The N-th attempt of the same logical request gets the N-th reply.

    Attempts are counted per ``key(request)`` (default :func:`request_key`), so concurrent
    requests for different rows don't consume each other's script: ``sequence(status(429),
    status(429))`` makes *every* logical request fail twice and then succeed, whatever the
    interleaving. A ``None`` entry means "default behaviour for this attempt"; after the
    script the answer is ``then`` (``None``: default behaviour).
    """
    counter = _AttemptCounter(key)

    def responder(req: StubRequest) -> Reply | None:
        _, n = counter.next(req)
        return replies[n] if n < len(replies) else then

    return responder


def faults(
    *,
    rate_limit: float = 0.0,
    server_error: float = 0.0,
    malformed_answer: float = 0.0,
    dropped: float = 0.0,
    retry_after: float = 0.1,
    transient_attempts: int = 1,
    seed: int = 0,
    malformed_text: str = DEFAULT_MALFORMED_TEXT,
    key: Callable[[StubRequest], Hashable] = request_key,
) -> Responder:
    """A deterministic fault schedule for chaos tests.

    Each logical request (``key``) is assigned at most one fault by a hash of its key and
    ``seed`` — never by a random draw — so the same dataset always meets the same faults and a
    test can't be flaky. The rates are fractions of logical requests:

    * ``rate_limit``: 429 with ``Retry-After``/``retry-after-ms`` of ``retry_after`` seconds,
    * ``server_error``: 500,
    * ``dropped``: connection closed without an answer,

    each for the first ``transient_attempts`` attempts only (then the default answer), so a
    client with a retry budget ≥ ``transient_attempts`` always recovers; and

    * ``malformed_answer``: a 200 whose content is ``malformed_text``, on *every* attempt.
    """
    bands: list[tuple[float, str]] = []
    edge = 0.0
    for rate, name in (
        (malformed_answer, "malformed"),
        (dropped, "drop"),
        (rate_limit, "429"),
        (server_error, "500"),
    ):
        if rate < 0:
            raise ValueError(f"fault rate must be >= 0, got {rate}")
        edge += rate
        bands.append((edge, name))
    if edge > 1.0 + 1e-9:
        raise ValueError(f"fault rates add up to {edge:.3f} > 1")
    counter = _AttemptCounter(key)
    replies = {
        "malformed": malformed(malformed_text),
        "drop": drop(),
        "429": status(429, retry_after=retry_after),
        "500": status(500),
    }

    def responder(req: StubRequest) -> Reply | None:
        k, n = counter.next(req)
        u = zlib.crc32(f"{seed}|{k!r}".encode()) / 2**32
        for upper, name in bands:
            if u < upper:
                if name == "malformed" or n < transient_attempts:
                    return replies[name]
                return None
        return None

    return responder
