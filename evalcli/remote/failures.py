"""What can go wrong with a remote call, in words that do not depend on the HTTP library.

Transports translate their library's exceptions into the :class:`TransportError` family
(:class:`StatusError`, :class:`TransportTimeoutError`, :class:`TransportConnectionError`,
:class:`TokenUnavailableError`), so the retry policy and the error reports below work the same over
the openai client, httpx2, an event loop later, or a fake in tests.

A :class:`Classifier` answers two questions about an exception: *during* the call, retry,
fail or stop (:meth:`Classifier.verdict`); *after* the last attempt, what the row records or
the run reports (:meth:`Classifier.report`). Clients subclass it only where their service
says something special (Content Safety: a 404 means the feature is missing, a 400 is about
the row's input).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from evalcli.remote.policy import Verdict, retry_after_s, status_verdict


class TransportError(Exception):
    """Base of what a transport raises when an attempt failed.

    Args:
        detail: The underlying library's message (for reports; may be scrubbed there).
    """

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail

    @property
    def original(self) -> BaseException:
        """The library's own exception, if the transport chained one, else this one."""
        return self.__cause__ if self.__cause__ is not None else self


class StatusError(TransportError):
    """The service answered with an error status.

    Args:
        status: The HTTP status.
        code: The body's error code (``insufficient_quota``, ``content_filter``, ...), if any.
        message: The service's explanation (already shortened), or ``""``.
        headers: Response headers (``Retry-After`` lives there); case-insensitive if the
            library's are, otherwise lower-case keys.
    """

    def __init__(
        self,
        status: int,
        *,
        code: str | None = None,
        message: str = "",
        headers: Mapping[str, str] | None = None,
    ):
        super().__init__(f"HTTP {status}" + (f": {message}" if message else ""))
        self.status = status
        self.code = code
        self.message = message
        self.headers: Mapping[str, str] = headers if headers is not None else {}


class TransportTimeoutError(TransportError):
    """The attempt timed out (connect or read)."""


class TransportConnectionError(TransportError):
    """The connection could not be made or broke (refused, reset, DNS, TLS)."""


class TokenUnavailableError(TransportError):
    """No bearer token could be obtained (Microsoft Entra ID): no later call would have one."""


@dataclass(frozen=True)
class Report:
    """What a failed call (after its retries) is reported as.

    Attributes:
        kind: Short stable identifier, prefixed by the endpoint's row kind in the
            :class:`~evalcli.errors.RowError` (``http-429``, ``timeout``, ...).
        message: One sentence for the row's error (no secrets).
        extra: Further output fields the row keeps (a raw answer, say).
        counts: False when the failure is about this row's data, not the endpoint's health
            (it then never stops the run, see :class:`~evalcli.remote.health.EndpointHealth`).
        reason: Why the run stops, when it does and the classifier knows better than the
            health rules (None: their reason).
        hint: What to check, should the run stop.
    """

    kind: str
    message: str
    extra: Mapping[str, object] = field(default_factory=dict)
    counts: bool = True
    reason: str | None = None
    hint: str = "check that the endpoint is reachable from this machine"


_OPENAI_KEY = re.compile(r"\bsk-[A-Za-z0-9*_\-]{6,}")


class Classifier:
    """Verdicts during a call and reports after it, for one endpoint.

    Args:
        timeout_s: The per-attempt timeout, quoted in timeout reports.
        secret: The endpoint's key, removed from every message.
        hint: What to check when the run stops (subclasses may vary it per failure).
    """

    def __init__(
        self,
        *,
        timeout_s: float,
        secret: str | None = None,
        hint: str = "check that the endpoint is reachable from this machine",
    ):
        self.timeout_s = timeout_s
        self.secret = secret
        self.hint = hint

    def scrub(self, text: str) -> str:
        """Remove anything that could be the key from a message."""
        # Very short "keys" (local servers that ignore auth) would mangle every word.
        if self.secret and len(self.secret) >= 6:
            text = text.replace(self.secret, "***")
        return _OPENAI_KEY.sub("sk-***", text)

    def verdict(self, exc: BaseException) -> tuple[Verdict, float | None]:
        """(retry, fail or fatal; the wait the server asked for, or None) for one attempt."""
        if isinstance(exc, StatusError):
            verdict = status_verdict(exc.status, exc.code)
            return verdict, retry_after_s(exc.headers) if verdict == "retry" else None
        if isinstance(exc, TransportTimeoutError | TransportConnectionError):
            return "retry", None
        if isinstance(exc, TokenUnavailableError):
            return "fatal", None
        return "fail", None  # a bug or an unusable answer: trying again gives the same

    def report(self, exc: BaseException, attempts: int, verdict: Verdict) -> Report:
        """How the call that ended with ``exc`` after ``attempts`` attempts is reported."""
        tries = f" after {attempts} attempt{'s' if attempts != 1 else ''}"
        reason = None
        if isinstance(exc, StatusError):
            kind = f"http-{exc.status}"
            detail = self.scrub(exc.message)
            message = f"HTTP {exc.status}{tries}" + (f": {detail}" if detail else "")
        elif isinstance(exc, TransportTimeoutError):
            kind, message = "timeout", f"timed out{tries} (timeout_s={self.timeout_s:g})"
        elif isinstance(exc, TransportConnectionError):
            kind, message = (
                "connection-error",
                f"connection failed{tries}: {self.scrub(exc.detail)}",
            )
        elif isinstance(exc, TokenUnavailableError):
            kind = "entra-token"
            message = f"no Microsoft Entra ID token: {self.scrub(exc.detail)}"
            reason = "Microsoft Entra ID authentication failed"
        else:
            kind, message = "call-error", f"{type(exc).__name__}{tries}: {self.scrub(str(exc))}"
        # Azure refuses texts its content filter flags with a 400: that is about this row's
        # data (often the very thing a safety evaluation feeds it), not about the endpoint.
        counts = not (isinstance(exc, StatusError) and exc.code == "content_filter")
        return Report(
            kind, message, counts=counts, reason=reason, hint=self.fatal_hint(exc, verdict, kind)
        )

    def fatal_hint(self, exc: BaseException, verdict: Verdict, kind: str) -> str:
        """What to check when this failure stops the run (default: the constructor's hint)."""
        return self.hint
