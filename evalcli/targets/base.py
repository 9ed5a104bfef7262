"""The target interface and the factory that validates a ``target:`` section."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalcli.cache import CallCache
    from evalcli.config import LoadedConfig
    from evalcli.dataset import DatasetScan
    from evalcli.judge.client import ClientPool


class Target(ABC):
    """The app under test. ``call`` is thread-safe and returns the row's output fields.

    Attributes:
        fields: Output field names the target produces (what ``${target.x}`` may use).
        concurrency: Calls in flight at most.
        kind: ``http``, ``chat`` or ``python`` (for messages).
    """

    fields: tuple[str, ...] = ()
    concurrency: int = 8
    kind: str = ""
    #: Set by the run when answers may come from / go to the call cache (HTTP targets use it;
    #: chat targets are cached by their chat client; Python targets are never cached).
    cache: CallCache | None = None

    @abstractmethod
    def call(self, data: dict[str, Any], line: int) -> dict[str, Any]:
        """Call the target for one row.

        Raises:
            evalcli.errors.RowError: this row's call failed (after retries).
            evalcli.errors.RemoteError: the target is unreachable/unauthorised (stop the run).
        """

    def data_paths(self) -> list[tuple[str, ...]]:
        """Dataset paths the target reads (checked against the dataset before the run)."""
        return []

    def check_columns(self, scan: DatasetScan, loaded: LoadedConfig) -> None:  # noqa: B027
        """Raise a MappingError if the target reads a column no row has (default: no-op)."""

    def usage(self) -> dict[str, int]:
        """Call counters for results.json."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def build_target(loaded: LoadedConfig, pool: ClientPool, default_concurrency: int) -> Target | None:
    """Validate the config's ``target:`` section and build the target (None without one)."""
    from evalcli.config import ChatTargetConfig, HttpTargetConfig, PythonTargetConfig

    cfg = loaded.config.target
    if cfg is None:
        return None
    if isinstance(cfg, HttpTargetConfig):
        from evalcli.targets.http import HttpTarget

        return HttpTarget(cfg, loaded, default_concurrency)
    if isinstance(cfg, ChatTargetConfig):
        from evalcli.targets.chat import ChatTarget

        return ChatTarget(cfg, loaded, pool, default_concurrency)
    assert isinstance(cfg, PythonTargetConfig)
    from evalcli.targets.python import PythonTarget

    return PythonTarget(cfg, loaded, default_concurrency)
