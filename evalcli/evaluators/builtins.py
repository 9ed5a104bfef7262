"""Registration hook of evalcli's built-in evaluators: the same call a plugin's hook makes.

Each built-in is registered by its summary (:mod:`evalcli.evaluators.catalog`); its module
is imported the first time its full declaration is asked for, so ``list-evaluators`` imports
none of them and ``validate`` only those of the evaluators a config uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evalcli.evaluators.declaration import EvaluatorInfo
    from evalcli.registry import Registry


def register(registry: Registry) -> None:
    """Add every built-in evaluator's declaration to ``registry`` (loaded on first use)."""
    from evalcli.evaluators.catalog import builtin_summaries

    for summary in builtin_summaries():
        registry.add_lazy(summary, _loader(summary.declared_in, summary.name))


def _loader(declared_in: str, name: str) -> Callable[[], EvaluatorInfo]:
    def load() -> EvaluatorInfo:
        from evalcli.evaluators.catalog import declarations

        for info in declarations(declared_in):
            if info.name == name:
                return info
        raise LookupError(
            f"built-in evaluator {name!r} is not declared in {declared_in} "
            "(regenerate the catalog: python -m evalcli.evaluators.catalog)"
        )

    return load
