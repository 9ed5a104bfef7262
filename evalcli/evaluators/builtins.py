"""Registration hook for evalcli's built-in evaluators (same path as plugins use)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evalcli.registry import Registry


def register(registry: Registry) -> None:
    """Add every built-in evaluator to ``registry``."""
    from evalcli.evaluators.nlp import NLP_EVALUATORS

    for info in NLP_EVALUATORS:
        registry.add(info)
