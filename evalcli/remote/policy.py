"""The retry policy every remote call follows (judge, chat target, HTTP target, Content Safety).

Clients never retry on their own (the openai client is built with ``max_retries=0`` so that
attempts don't multiply); this module decides what is retried (429, 5xx, 408/409, timeouts,
connection errors), how long to wait (the server's ``retry-after-ms`` / ``Retry-After`` when
given, otherwise exponential backoff with jitter), and when to give up (attempts and total
time). :class:`~evalcli.remote.endpoint.Endpoint` runs it for every call.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

T = TypeVar("T")

Verdict = Literal["retry", "fail", "fatal"]

RETRY_STATUSES = frozenset({408, 409, 429})
FATAL_STATUSES = frozenset({401, 403})


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of the retry loop.

    Args:
        max_retries: Retries after the first attempt (attempts = max_retries + 1).
        max_total_s: Give up once this much time has passed since the first attempt.
        base_s: First backoff step; doubles per attempt.
        max_wait_s: Longest single wait (also caps a server's Retry-After).
    """

    max_retries: int = 8
    max_total_s: float = 300.0
    base_s: float = 0.5
    max_wait_s: float = 30.0

    def backoff(self, attempt: int) -> float:
        """Wait before retry number ``attempt`` (1-based) when the server gave no hint.

        "Equal jitter": half the step is fixed, half random, so clients that failed together
        spread out but never retry instantly.
        """
        step = min(self.max_wait_s, self.base_s * 2.0 ** (attempt - 1))
        return step / 2 + random.uniform(0, step / 2)


def status_verdict(status: int, error_code: str | None = None) -> Verdict:
    """What to do about an HTTP status (``error_code`` is the body's error code, if any)."""
    if status in FATAL_STATUSES:
        return "fatal"
    if status == 429 and error_code == "insufficient_quota":
        return "fail"  # waiting will not bring quota back
    if status in RETRY_STATUSES or status >= 500:
        return "retry"
    return "fail"


def retry_after_s(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the server asked us to wait: ``retry-after-ms``, then ``Retry-After``."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class GiveUpError(Exception):
    """Raised by :func:`call_with_retries` when the last attempt failed.

    Attributes:
        error: The last exception.
        attempts: Attempts made.
        verdict: ``fail`` (row error) or ``fatal`` (stop the run).
    """

    def __init__(self, error: BaseException, attempts: int, verdict: Verdict):
        super().__init__(str(error))
        self.error = error
        self.attempts = attempts
        self.verdict = verdict


def call_with_retries(
    fn: Callable[[], T],
    policy: RetryPolicy,
    classify: Callable[[BaseException], tuple[Verdict, float | None]],
    on_retry: Callable[[BaseException, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[T, int]:
    """Call ``fn`` until it succeeds or the policy gives up.

    Args:
        fn: The call.
        policy: Attempt and time bounds.
        classify: Maps an exception to (verdict, server-requested wait or None).
        on_retry: Told about every retry (for statistics).
        sleep: Injectable for tests.

    Returns:
        (result, attempts made).

    Raises:
        GiveUpError: with the last error once no retry is allowed.
    """
    from tenacity import (
        RetryCallState,
        Retrying,
        retry_if_exception,
        stop_after_attempt,
        stop_after_delay,
    )

    def should_retry(exc: BaseException) -> bool:
        return classify(exc)[0] == "retry"

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hinted = classify(exc)[1] if exc is not None else None
        if hinted is not None:
            delay = min(hinted, policy.max_wait_s)
        else:
            delay = policy.backoff(state.attempt_number)
        # Never sleep past the total budget: the attempt after it would be refused anyway.
        elapsed = time.monotonic() - start
        return max(0.0, min(delay, policy.max_total_s - elapsed))

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None:
            exc = state.outcome.exception()
            if exc is not None:
                on_retry(exc, state.upcoming_sleep)

    start = time.monotonic()
    retrying = Retrying(
        stop=stop_after_attempt(policy.max_retries + 1) | stop_after_delay(policy.max_total_s),
        wait=wait,
        retry=retry_if_exception(should_retry),
        before_sleep=before_sleep,
        sleep=sleep,
        reraise=True,
    )
    attempts = 0

    def counted() -> T:
        nonlocal attempts
        attempts += 1
        return fn()

    try:
        result = retrying(counted)
    except Exception as exc:
        verdict = classify(exc)[0]
        raise GiveUpError(exc, attempts, "fatal" if verdict == "fatal" else "fail") from exc
    return result, attempts
