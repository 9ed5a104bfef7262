"""Look for pydantic plugins only where there may be some (the ``evalcli`` command only).

pydantic looks for its plugins when it builds its first model: its module
``pydantic.plugin._loader`` imports ``importlib.metadata`` and scans every installed
distribution's entry points, 15-20 ms that are a tenth of ``evalcli validate`` (issue 15,
part 2) and almost always find nothing. :func:`install` puts a stand-in for that module in
``sys.modules`` before pydantic is imported. Its ``get_plugins()`` answers "no plugins"
when pydantic's own setting disables them or when :func:`evalcli.entry_points.may_declare`
is certain that no distribution declares the ``pydantic`` group; otherwise it loads
pydantic's real module from its file and hands over to it, so a process with a pydantic
plugin installed (logfire, say) gets it exactly as before.

The library never does this (a program importing evalcli owns its pydantic); only
:func:`evalcli.cli.main` calls :func:`install`. It stands aside when pydantic is already
imported or when pydantic's module is not where, and what, this was written against.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

_NAME = "pydantic.plugin._loader"
# pydantic's own switch, read the same way (pydantic/plugin/_loader.py).
_DISABLED = ("__all__", "1", "true")


def install() -> bool:
    """Put the stand-in in place; returns whether it was installed."""
    if "pydantic" in sys.modules or _NAME in sys.modules:
        return False
    real = _real_path()
    if real is None:
        return False
    stand_in = ModuleType(_NAME, "Stand-in for pydantic's plugin loader (evalcli.cli).")
    stand_in.get_plugins = _get_plugins  # type: ignore[attr-defined]
    # Any other name pydantic may take from its loader (a later release's): the real one.
    stand_in.__dict__["__getattr__"] = _real_attribute
    stand_in.__dict__["_real_path"] = real
    sys.modules[_NAME] = stand_in
    return True


def _real_path() -> Path | None:
    """pydantic's loader module, if it is the file this stand-in expects."""
    spec = importlib.util.find_spec("pydantic")  # finds without importing
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "plugin" / "_loader.py"
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return path if "def get_plugins()" in source else None


def _get_plugins() -> Iterable[Any]:
    if os.getenv("PYDANTIC_DISABLE_PLUGINS") in _DISABLED:
        return ()
    from evalcli.entry_points import may_declare

    if not may_declare("pydantic"):
        return ()
    return _hand_over().get_plugins()  # type: ignore[no-any-return]


def _real_attribute(name: str) -> Any:
    if name.startswith("__"):  # the import system's own probes (__path__, __spec__, ...)
        raise AttributeError(name)
    return getattr(_hand_over(), name)


def _hand_over() -> Any:
    """Load pydantic's real loader in the stand-in's place and return it."""
    stand_in = sys.modules[_NAME]
    if "_real_path" not in stand_in.__dict__:
        return stand_in  # not the stand-in any more: pydantic's module, handed over already
    path: Path = stand_in.__dict__["_real_path"]
    spec = importlib.util.spec_from_file_location(_NAME, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules[_NAME] = stand_in
        raise
    return module
