"""Package attributes imported on first access (PEP 562), for packages whose public names
live in submodules that most programs, and the quick commands, never need."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def exports(
    package: str, homes: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A ``__getattr__`` and ``__dir__`` for ``package``.

    Args:
        package: The package's ``__name__``.
        homes: Each public name and the module defining it (absolute, or relative to the
            package when it starts with a dot).

    Returns:
        The two functions to assign to the package's ``__getattr__`` and ``__dir__``. A name
        is imported once: its value is then stored in the package, where later look-ups find
        it without calling ``__getattr__``.
    """

    def getattr_(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(home, package), name)
        setattr(sys.modules[package], name, value)
        return value

    def dir_() -> list[str]:
        return sorted({*vars(sys.modules[package]), *homes})

    return getattr_, dir_
