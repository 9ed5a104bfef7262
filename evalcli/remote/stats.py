"""Call counters of one remote endpoint, as ``results.json`` reports them under ``usage``."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class CallStats:
    """Counters for the run summary; thread-safe through the ``record_*`` methods.

    ``calls`` counts calls actually made (succeeded + failed, each after its retries);
    answers taken from the call cache count as ``cache_hits`` only, since they cost nothing.
    Tokens are those the service reported for the calls made.
    """

    calls: int = 0
    cache_hits: int = 0
    succeeded: int = 0
    failed: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def as_dict(self) -> dict[str, int]:
        """JSON-ready counters (the keys and order ``results.json`` has always used)."""
        with self._lock:
            return {
                "calls": self.calls,
                "cache_hits": self.cache_hits,
                "succeeded": self.succeeded,
                "failed": self.failed,
                "retries": self.retries,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
            }

    def record_hit(self) -> None:
        """An answer came from the call cache."""
        with self._lock:
            self.cache_hits += 1

    def record_retry(self) -> None:
        """An attempt failed and will be retried."""
        with self._lock:
            self.retries += 1

    def record_success(self, prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
        """A call succeeded (after its retries)."""
        with self._lock:
            self.calls += 1
            self.succeeded += 1
            self.prompt_tokens += prompt_tokens
            self.completion_tokens += completion_tokens

    def record_failure(self) -> None:
        """A call failed after its retries."""
        with self._lock:
            self.calls += 1
            self.failed += 1
