"""Registration hook of evalcli's built-in evaluators: the same call a plugin's hook makes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evalcli.registry import Registry


def register(registry: Registry) -> None:
    """Add every built-in evaluator's declaration to ``registry``."""
    from evalcli.evaluators.agents import AGENT_EVALUATORS
    from evalcli.evaluators.checks import CHECK_EVALUATORS
    from evalcli.evaluators.composite import COMPOSITE_EVALUATORS
    from evalcli.evaluators.custom import CODE_EVALUATOR
    from evalcli.evaluators.custom_prompt import PROMPT_EVALUATOR
    from evalcli.evaluators.guidelines import GUIDELINES
    from evalcli.evaluators.nlp import NLP_EVALUATORS
    from evalcli.evaluators.quality import QUALITY_EVALUATORS
    from evalcli.evaluators.retrieval import DOCUMENT_RETRIEVAL
    from evalcli.evaluators.safety import HARM_EVALUATORS
    from evalcli.evaluators.safety_labels import LABEL_EVALUATORS
    from evalcli.evaluators.translation import SACREBLEU_EVALUATORS

    for info in (
        *NLP_EVALUATORS,
        *SACREBLEU_EVALUATORS,
        DOCUMENT_RETRIEVAL,
        *CHECK_EVALUATORS,
        *QUALITY_EVALUATORS,
        *COMPOSITE_EVALUATORS,
        *HARM_EVALUATORS,
        *LABEL_EVALUATORS,
        *AGENT_EVALUATORS,
        GUIDELINES,
        CODE_EVALUATOR,  # `use: code` / `use: prompt`: the user supplies the logic
        PROMPT_EVALUATOR,
    ):
        registry.add(info)
