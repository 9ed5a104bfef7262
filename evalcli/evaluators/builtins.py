"""Registration hook for evalcli's built-in evaluators (same path as plugins use)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evalcli.registry import Registry


def register(registry: Registry) -> None:
    """Add every built-in evaluator to ``registry``."""
    from evalcli.evaluators.composite import COMPOSITE_EVALUATORS
    from evalcli.evaluators.custom import CUSTOM_EVALUATORS
    from evalcli.evaluators.nlp import NLP_EVALUATORS
    from evalcli.evaluators.quality import QUALITY_EVALUATORS
    from evalcli.evaluators.safety import HARM_EVALUATORS
    from evalcli.evaluators.safety_labels import LABEL_EVALUATORS

    for info in (
        *NLP_EVALUATORS,
        *QUALITY_EVALUATORS,
        *COMPOSITE_EVALUATORS,
        *HARM_EVALUATORS,
        *LABEL_EVALUATORS,
        *CUSTOM_EVALUATORS,  # `use: code` / `use: prompt`: the user supplies the logic
    ):
        registry.add(info)
