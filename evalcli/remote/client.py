"""The part every client built on an :class:`~evalcli.remote.endpoint.Endpoint` shares."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalcli.cache import CallCache
    from evalcli.remote.endpoint import Endpoint
    from evalcli.remote.stats import CallStats


class EndpointClient:
    """Cache, statistics, limit and closing, delegated to the client's ``remote`` endpoint.

    A subclass sets ``self.remote`` in its constructor and adds only what is its own:
    building requests and reading answers.
    """

    remote: Endpoint[Any, Any]

    @property
    def cache(self) -> CallCache | None:
        """The run's call cache (None: no cache); set by ``ClientPool.attach``."""
        return self.remote.cache

    @cache.setter
    def cache(self, cache: CallCache | None) -> None:
        self.remote.cache = cache

    @property
    def stats(self) -> CallStats:
        """Call counters (read them after the run)."""
        return self.remote.stats

    @property
    def limit(self) -> int:
        """Calls in flight at most."""
        return self.remote.limit

    def close(self) -> None:
        """Release connections."""
        self.remote.close()
