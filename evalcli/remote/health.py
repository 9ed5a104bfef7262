"""When failures of one remote endpoint stop the whole run, and the latch that keeps it stopped."""

from __future__ import annotations

import threading

from evalcli.errors import RemoteError
from evalcli.remote.policy import Verdict

#: After this many calls failed (after retries) with no success yet, the endpoint is broken.
FIRST_CALLS_FATAL = 3


class EndpointHealth:
    """Decides when failures of one remote endpoint should stop the whole run.

    A 401/403 (any ``fatal`` verdict) stops it at once. Otherwise, if the first
    ``first_calls`` calls all failed after their retries (unreachable endpoint, unknown
    deployment, wrong URL), the endpoint is considered broken: failing every remaining row
    one by one would only waste time. After one success, failures are row errors.

    Once stopped, the endpoint stays stopped: :meth:`check` raises the first
    :class:`~evalcli.errors.RemoteError` again, so calls already queued fail fast with the
    same message instead of each waiting out its own retries.

    Args:
        label: The endpoint, for messages (no secrets).
        first_calls: How many failures with no success yet make the endpoint broken.
    """

    def __init__(self, label: str, first_calls: int = FIRST_CALLS_FATAL):
        self.label = label
        self.first_calls = first_calls
        self.succeeded = 0
        self.failed = 0
        self.stopped: RemoteError | None = None
        self._lock = threading.Lock()

    def check(self) -> None:
        """Raise the latched error if the endpoint has stopped the run."""
        if self.stopped is not None:
            raise self.stopped

    def success(self) -> None:
        """Record a successful call."""
        with self._lock:
            self.succeeded += 1

    def failure(self, verdict: Verdict, *, data_specific: bool = False) -> str | None:
        """Record a failed call; returns why the run must stop, or None for a row error.

        ``data_specific`` failures (e.g. a content filter refusing this row's text) say
        nothing about the endpoint's health and never stop the run, unless fatal.
        """
        if data_specific and verdict != "fatal":
            return None
        with self._lock:
            self.failed += 1
            if verdict == "fatal":
                return "authentication/authorisation failed"
            if self.succeeded == 0 and self.failed >= self.first_calls:
                return f"the first {self.failed} calls all failed"
            return None

    def stop(self, error: RemoteError) -> RemoteError:
        """Latch ``error`` (unless an earlier one is latched); returns the latched error.

        Threads that fail together all report the first reason, so the run's message does
        not depend on which of them lost the race.
        """
        with self._lock:
            if self.stopped is None:
                self.stopped = error
            return self.stopped
