"""One remote endpoint: where every judge, target and Content Safety call goes through.

:meth:`Endpoint.call` runs the same steps for every client:

1. the fatal latch (an endpoint that stopped the run fails every later call at once);
2. the call cache (a hit costs no slot, no attempt and no statistics but ``cache_hits``);
3. a concurrency slot (at most ``limit`` calls in flight);
4. attempts through the transport, retried per :class:`~evalcli.remote.policy.RetryPolicy`,
   each classified by the endpoint's :class:`~evalcli.remote.failures.Classifier`;
5. statistics, health, and the outcome: the answer (stored in the cache), a
   :class:`~evalcli.errors.RowError` for this row, or a :class:`~evalcli.errors.RemoteError`
   that stops the run (exit 3) and stays latched.

A client builds its request and says how to read an answer (``read``: the transport's
response -> a JSON-ready payload, raising a ``TransportError`` for an error status); the
payload is what the cache keeps, so a hit and a fresh answer look the same to the client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic

from evalcli.errors import RemoteError, RowError
from evalcli.remote.failures import Classifier
from evalcli.remote.health import FIRST_CALLS_FATAL, EndpointHealth
from evalcli.remote.policy import GiveUpError, RetryPolicy, call_with_retries
from evalcli.remote.stats import CallStats
from evalcli.remote.transport import Req, Resp, Transport

if TYPE_CHECKING:
    from evalcli.cache import CallCache

#: A JSON-ready answer, as the call cache stores it.
Payload = dict[str, Any]


@dataclass(frozen=True)
class Result:
    """A successful call.

    Attributes:
        payload: The answer (from ``read``, or from the cache).
        attempts: Attempts made (0 for a cache hit).
        cached: Whether the answer came from the call cache.
    """

    payload: Payload
    attempts: int
    cached: bool


class Endpoint(Generic[Req, Resp]):
    """Retries, health and fatal latch, statistics, classification, concurrency and cache
    for the calls to one remote endpoint. Thread-safe; one per client per run.

    Args:
        label: Names the endpoint in messages and the usage table (no secrets).
        transport: Sends one attempt. It may be replaced before the first call (tests put
            a :class:`~evalcli.remote.transport.FakeTransport` there).
        policy: Attempt and time bounds.
        classifier: Verdicts during a call, reports after it.
        limit: Calls in flight at most.
        row_kind: Prefix of this endpoint's row error kinds (``judge`` -> ``judge-http-500``).
        cache_kind: What the cache file records as the kind of this endpoint's entries.
        first_calls: Failures with no success yet that stop the run.
        sleep: Waits between attempts (injectable so tests need not wait).
    """

    def __init__(
        self,
        label: str,
        transport: Transport[Req, Resp],
        *,
        policy: RetryPolicy,
        classifier: Classifier,
        limit: int,
        row_kind: str,
        cache_kind: str,
        first_calls: int = FIRST_CALLS_FATAL,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.label = label
        self.transport = transport
        self.policy = policy
        self.classifier = classifier
        self.limit = limit
        self.row_kind = row_kind
        self.cache_kind = cache_kind
        self.stats = CallStats()
        self.health = EndpointHealth(label, first_calls)
        #: Set by the run when answers may come from / go to the call cache.
        self.cache: CallCache | None = None
        self._slots = threading.BoundedSemaphore(limit)
        #: Waits between attempts (tests replace it so that they need not wait).
        self.sleep = sleep

    def call(
        self,
        request: Req,
        read: Callable[[Resp], Payload],
        *,
        what: str,
        scope: str | None = None,
        key: str | None = None,
        tokens: Callable[[Payload], tuple[int, int]] | None = None,
        on_give_up: Callable[[GiveUpError], None] | None = None,
    ) -> Result:
        """Make one call (or take its answer from the cache).

        Args:
            request: What the transport sends.
            read: Turns a response into the payload; runs inside the retry loop, so raising
                a ``StatusError`` there makes the status count as a failed attempt.
            what: Names the call in row errors (``judge call`` -> "judge call failed: ...").
            scope: Added to the endpoint's label in a run-stopping message (an operation).
            key: The call-cache key; None: never cached. Only successes are stored.
            tokens: (prompt, completion) tokens of a payload, for the statistics.
            on_give_up: Told about the last error once retries are exhausted (transcripts).

        Raises:
            RemoteError: the endpoint refuses us or is down (the run must stop).
            RowError: this call failed (the row records the error).
        """
        self.health.check()
        cache = self.cache
        if cache is not None and key is not None:
            hit = cache.get(key)
            if hit is not None:
                self.stats.record_hit()
                return Result(hit, 0, True)
        # A hit never waits for a slot; only real calls do.
        with self._slots:
            payload, attempts = self._attempts(request, read, what, scope, on_give_up)
        self.health.success()
        prompt, completion = tokens(payload) if tokens is not None else (0, 0)
        self.stats.record_success(prompt, completion)
        if cache is not None and key is not None:
            # Stored even if the client later finds the answer unusable (a judge answer that
            # does not parse, say): reading it again would give the same result.
            cache.put(key, self.cache_kind, payload)
        return Result(payload, attempts, False)

    def _attempts(
        self,
        request: Req,
        read: Callable[[Resp], Payload],
        what: str,
        scope: str | None,
        on_give_up: Callable[[GiveUpError], None] | None,
    ) -> tuple[Payload, int]:
        transport = self.transport

        def attempt() -> Payload:
            return read(transport.send(request))

        def on_retry(exc: BaseException, wait: float) -> None:
            self.stats.record_retry()

        try:
            return call_with_retries(
                attempt, self.policy, self.classifier.verdict, on_retry, self.sleep
            )
        except GiveUpError as gu:
            if on_give_up is not None:
                on_give_up(gu)
            raise self._failure(gu, what, scope) from None

    def _failure(self, gu: GiveUpError, what: str, scope: str | None) -> RemoteError | RowError:
        report = self.classifier.report(gu.error, gu.attempts, gu.verdict)
        self.stats.record_failure()
        why = self.health.failure(gu.verdict, data_specific=not report.counts)
        if why is not None:
            where = f"{self.label}: {scope}" if scope else self.label
            return self.health.stop(
                RemoteError(f"{where}: {report.reason or why} ({report.message})", hint=report.hint)
            )
        return RowError(
            f"{self.row_kind}-{report.kind}",
            f"{what} failed: {report.message}",
            extra=dict(report.extra),
        )

    def close(self) -> None:
        """Release the transport's connections."""
        self.transport.close()
