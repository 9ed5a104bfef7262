"""The evaluator registry: one registration path for built-ins and plugins.

A plugin distribution declares an entry point in the group ``evalcli.evaluators`` whose
object is a function ``register(registry: Registry) -> None`` that adds declarations
(:class:`~evalcli.evaluators.declaration.EvaluatorInfo`). Built-ins are added by
:func:`evalcli.evaluators.builtins.register` through the very same call
(:meth:`Registry.run_hook`), and every declaration goes through the same checks in
:meth:`Registry.add`.

Only *finding* the hooks differs: plugins are found through their entry points, the
built-in hook is called directly. evalcli declares no entry point for itself, so that its
own evaluators never depend on installed metadata (a source checkout or a stale editable
install would otherwise have none) and load even when plugins are switched off.

A hook may also register a name by its summary (:meth:`Registry.add_lazy`) and have the
declaration loaded when the name is first used. The built-ins do, so that listing them
imports none of their modules and validating a config only those it uses.

``EVALCLI_PLUGINS`` chooses which plugins load: unset, all of them; ``none`` (or empty), none;
otherwise a comma-separated allow-list of distribution names. A plugin that fails to load
becomes a warning naming its distribution, never a crash.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from evalcli.errors import ConfigError
from evalcli.suggest import did_you_mean

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from evalcli.evaluators.catalog import Summary
    from evalcli.evaluators.declaration import EvaluatorInfo

ENTRY_POINT_GROUP = "evalcli.evaluators"
PLUGINS_ENV = "EVALCLI_PLUGINS"

RegisterHook = Callable[["Registry"], None]


@dataclass(frozen=True)
class _Lazy:
    """A name registered by its summary; ``load`` returns the full declaration."""

    summary: Summary
    load: Callable[[], EvaluatorInfo]

    @property
    def source(self) -> str:
        return self.summary.source


class Registry:
    """Named evaluator declarations (:class:`EvaluatorInfo`)."""

    def __init__(self) -> None:
        self._entries: dict[str, EvaluatorInfo | _Lazy] = {}
        self.warnings: list[str] = []
        self._source = "builtin"
        self._version = ""

    def add(self, info: EvaluatorInfo) -> None:
        """Register a declaration; a plugin may not silently replace an existing name.

        Raises:
            TypeError: the declaration is malformed (a plugin's is reported as a warning).
        """
        _check_declaration(info)
        if self._source != "builtin" or self._version:
            info = replace(info, source=self._source, version=info.version or self._version)
        existing = self._entries.get(info.name)
        if existing is not None:
            self.warnings.append(
                f"evaluator {info.name!r} from {info.source} ignored: the name is already "
                f"registered by {existing.source}"
            )
            return
        self._entries[info.name] = info

    def add_lazy(self, summary: Summary, load: Callable[[], EvaluatorInfo]) -> None:
        """Register a name by its summary; ``load`` is called when the declaration is needed.

        ``list-evaluators`` shows the summary; :meth:`get`, :meth:`require` and iteration
        call ``load`` once and check its declaration as :meth:`add` does.
        """
        summary = replace(summary, source=self._source, version=summary.version or self._version)
        existing = self._entries.get(summary.name)
        if existing is not None:
            self.warnings.append(
                f"evaluator {summary.name!r} from {summary.source} ignored: the name is "
                f"already registered by {existing.source}"
            )
            return
        self._entries[summary.name] = _Lazy(summary, load)

    def get(self, name: str) -> EvaluatorInfo | None:
        """The entry named ``name``, or None."""
        entry = self._entries.get(name)
        return self._loaded(entry) if isinstance(entry, _Lazy) else entry

    def _loaded(self, lazy: _Lazy) -> EvaluatorInfo:
        info = lazy.load()
        _check_declaration(info)
        if info.name != lazy.summary.name:
            raise TypeError(f"{lazy.summary.name}: its loader returned {info.name!r}")
        info = replace(info, source=lazy.summary.source, version=lazy.summary.version)
        self._entries[info.name] = info
        return info

    def summaries(self) -> list[Summary]:
        """What ``list-evaluators`` shows of each entry, loading none of them."""
        from evalcli.evaluators.catalog import summarize

        listed = [
            e.summary if isinstance(e, _Lazy) else summarize(e) for e in self._entries.values()
        ]
        return sorted(listed, key=lambda s: (s.family, s.name))

    def require(self, name: str, *, where: str | None = None) -> EvaluatorInfo:
        """The entry named ``name``, or a :class:`ConfigError` listing the closest names."""
        info = self.get(name)
        if info is not None:
            return info
        hint = did_you_mean(name, self._entries)
        hint = (hint + " " if hint else "") + "`evalcli list-evaluators` shows them all"
        raise ConfigError(f"unknown evaluator {name!r}", where=where, hint=hint)

    def takers(self, key: str) -> list[str]:
        """Names of the evaluators whose settings include ``key`` (for error messages)."""
        return [i.name for i in self if key in i.params_model.model_fields]

    def __iter__(self) -> Iterator[EvaluatorInfo]:
        infos = [
            self._loaded(e) if isinstance(e, _Lazy) else e for e in list(self._entries.values())
        ]
        return iter(sorted(infos, key=lambda i: (i.family, i.name)))

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


def _check_declaration(info: EvaluatorInfo) -> None:
    from pydantic import BaseModel

    from evalcli.evaluators.declaration import EvaluatorInfo, EvaluatorParams

    if not isinstance(info, EvaluatorInfo):
        raise TypeError(f"expected an EvaluatorInfo, got {type(info).__name__}")
    model = info.params_model
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"{info.name}: params_model must be a pydantic model class")
    if not issubclass(model, EvaluatorParams):
        raise TypeError(f"{info.name}: params_model must subclass EvaluatorParams")
    if not callable(info.factory):
        raise TypeError(f"{info.name}: factory is not callable")


_lock = threading.Lock()
_default: Registry | None = None


def default_registry(*, plugins: bool = True) -> Registry:
    """Built-in evaluators plus the plugins ``EVALCLI_PLUGINS`` allows (loaded once)."""
    global _default
    with _lock:
        if _default is None:
            reg = Registry()
            from evalcli._version import __version__
            from evalcli.evaluators.builtins import register as register_builtins

            reg.run_hook(register_builtins, source="builtin", version=__version__)
            if plugins:
                load_plugins(reg, plugin_filter(os.environ.get(PLUGINS_ENV)))
            _default = reg
        return _default


def reset_default_registry() -> None:
    """Forget the cached registry (tests install plugins at run time)."""
    global _default
    with _lock:
        _default = None


def normalize(name: str) -> str:
    """A distribution name as packaging compares them (``Evalcli_Plugin.Demo`` ->
    ``evalcli-plugin-demo``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def plugin_filter(setting: str | None) -> frozenset[str] | None:
    """The distributions ``EVALCLI_PLUGINS`` allows: None for all, else their names."""
    if setting is None:
        return None
    names = [normalize(n.strip()) for n in setting.split(",") if n.strip()]
    if not names or names == ["none"]:
        return frozenset()
    return frozenset(names)


def load_plugins(reg: Registry, allowed: frozenset[str] | None = None) -> None:
    """Run the ``evalcli.evaluators`` entry points of the allowed distributions.

    Args:
        allowed: Normalized distribution names to load; None loads every plugin.
    """
    if allowed is not None and not allowed:
        return  # EVALCLI_PLUGINS=none: reading every distribution's metadata is not free
    seen: set[str] = set()
    for ep in _entry_points(ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else "unknown distribution"
        version = ep.dist.version if ep.dist is not None else ""
        if normalize(dist) == "evalcli":
            continue  # metadata of an older evalcli that declared its built-ins here
        seen.add(normalize(dist))
        if allowed is not None and normalize(dist) not in allowed:
            continue
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
    for name in sorted((allowed or frozenset()) - seen):
        reg.warnings.append(f"{PLUGINS_ENV} names {name!r}, which is not an installed plugin")


def _entry_points(group: str) -> Iterable[EntryPoint]:
    """The group's entry points; importlib.metadata is imported only when there may be some."""
    from evalcli.entry_points import may_declare

    if not may_declare(group):
        return ()
    from importlib import metadata

    return metadata.entry_points(group=group)
