"""The evaluator registry: one registration path for built-ins and plugins.

A plugin distribution declares an entry point in the group ``evalcli.evaluators`` whose
object is a function ``register(registry: Registry) -> None``. Built-ins are registered by
:func:`evalcli.evaluators.builtins.register` through exactly the same call. A plugin that
fails to load becomes a warning naming its distribution, never a crash.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from importlib import metadata

from evalcli.errors import ConfigError
from evalcli.evaluators.base import EvaluatorInfo

ENTRY_POINT_GROUP = "evalcli.evaluators"

RegisterHook = Callable[["Registry"], None]


class Registry:
    """Named evaluator entries (:class:`EvaluatorInfo`)."""

    def __init__(self) -> None:
        self._entries: dict[str, EvaluatorInfo] = {}
        self.warnings: list[str] = []
        self._source = "builtin"
        self._version = ""

    def add(self, info: EvaluatorInfo) -> None:
        """Register an evaluator; a plugin may not silently replace an existing name."""
        if self._source != "builtin" or self._version:
            from dataclasses import replace

            info = replace(info, source=self._source, version=info.version or self._version)
        existing = self._entries.get(info.name)
        if existing is not None:
            self.warnings.append(
                f"evaluator {info.name!r} from {info.source} ignored: the name is already "
                f"registered by {existing.source}"
            )
            return
        self._entries[info.name] = info

    def get(self, name: str) -> EvaluatorInfo | None:
        """The entry named ``name``, or None."""
        return self._entries.get(name)

    def require(self, name: str, *, where: str | None = None) -> EvaluatorInfo:
        """The entry named ``name``, or a :class:`ConfigError` listing the closest names."""
        info = self._entries.get(name)
        if info is not None:
            return info
        import difflib

        close = difflib.get_close_matches(name, list(self._entries), n=3, cutoff=0.5)
        hint = ("did you mean " + " or ".join(repr(c) for c in close) + "?") if close else None
        hint = (hint + " " if hint else "") + "`evalcli list-evaluators` shows them all"
        raise ConfigError(f"unknown evaluator {name!r}", where=where, hint=hint)

    def __iter__(self) -> Iterator[EvaluatorInfo]:
        return iter(sorted(self._entries.values(), key=lambda i: (i.family, i.name)))

    def __len__(self) -> int:
        return len(self._entries)

    def run_hook(self, hook: RegisterHook, *, source: str, version: str = "") -> None:
        """Call a registration hook, stamping its entries with their source and version."""
        saved = (self._source, self._version)
        self._source, self._version = source, version
        try:
            hook(self)
        finally:
            self._source, self._version = saved


_lock = threading.Lock()
_default: Registry | None = None


def default_registry(*, plugins: bool = True) -> Registry:
    """Built-in evaluators plus installed plugins (loaded once per process)."""
    global _default
    with _lock:
        if _default is None:
            reg = Registry()
            from evalcli._version import __version__
            from evalcli.evaluators.builtins import register as register_builtins

            reg.run_hook(register_builtins, source="builtin", version=__version__)
            if plugins:
                load_plugins(reg)
            _default = reg
        return _default


def reset_default_registry() -> None:
    """Forget the cached registry (tests install plugins at run time)."""
    global _default
    with _lock:
        _default = None


def load_plugins(reg: Registry) -> None:
    """Run every ``evalcli.evaluators`` entry point except our own built-ins."""
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else "unknown distribution"
        version = ep.dist.version if ep.dist is not None else ""
        if dist == "evalcli":
            continue  # built-ins were registered above through the same hook
        try:
            hook = ep.load()
            if not callable(hook):
                raise TypeError(f"entry point {ep.value!r} is not callable")
            reg.run_hook(hook, source=f"plugin:{dist}", version=version)
        except Exception as exc:  # a broken plugin must never break evalcli
            reg.warnings.append(
                f"plugin {dist} {version} failed to load ({ep.name} = {ep.value}): "
                f"{type(exc).__name__}: {exc}"
            )
