"""evalcli-plugin-demo: a third-party evaluator registered through the entry point.

evalcli calls :func:`register` (the object of the ``evalcli.evaluators`` entry point) with its
registry. The evaluator counts exclamation marks in a response; a row passes when the count is
at most the threshold (default 1), so lower is better.
"""

from __future__ import annotations

from typing import Any

from evalcli.config import EvaluatorConfig
from evalcli.errors import ConfigError, RowError
from evalcli.evaluators.base import (
    Evaluator,
    EvaluatorInfo,
    Family,
    InputSpec,
    OutputField,
    Outputs,
    Role,
)
from evalcli.evaluators.context import BuildContext, EvalContext
from evalcli.registry import Registry

NAME = "exclamation_count"
DEFAULT_THRESHOLD = 1.0


class ExclamationCount(Evaluator):
    """Counts ``!`` in the response; pure and cheap, so it may run in the CPU pool."""

    execution = "cpu"

    def __init__(self, alias: str, threshold: float):
        super().__init__(
            alias,
            NAME,
            (InputSpec("response"),),
            (
                OutputField(NAME, Role.SCORE, higher_is_better=False),
                OutputField(f"{NAME}_result", Role.RESULT, stem=NAME, primary=True),
                OutputField(f"{NAME}_threshold", Role.THRESHOLD),
            ),
        )
        self.threshold = threshold

    def evaluate(self, inputs: dict[str, Any], ctx: EvalContext) -> Outputs:
        response = inputs["response"]
        if not isinstance(response, str):
            raise RowError("bad-input", f"response must be text, got {type(response).__name__}")
        count = response.count("!")
        return {
            NAME: count,
            f"{NAME}_result": "pass" if count <= self.threshold else "fail",
            f"{NAME}_threshold": self.threshold,
        }

    def describe_params(self) -> dict[str, Any]:
        return {"threshold": self.threshold}


def _build(alias: str, spec: EvaluatorConfig, ctx: BuildContext) -> Evaluator:
    if spec.params:
        first = next(iter(spec.params))
        raise ConfigError(
            f"unknown key 'evaluators.{alias}.params.{first}' ({NAME} takes no params)",
            where=ctx.where("params", first, key=True),
        )
    if isinstance(spec.threshold, dict):
        raise ConfigError(
            f"evaluators.{alias}.threshold must be a single number", where=ctx.where("threshold")
        )
    threshold = DEFAULT_THRESHOLD if spec.threshold is None else spec.threshold
    return ExclamationCount(alias, threshold)


def register(registry: Registry) -> None:
    """Entry point: add this plugin's evaluators to evalcli's registry."""
    registry.add(
        EvaluatorInfo(
            NAME,
            Family.CUSTOM,
            "Number of exclamation marks in the response (lower is better)",
            (InputSpec("response"),),
            (NAME, f"{NAME}_result", f"{NAME}_threshold"),
            _build,
            DEFAULT_THRESHOLD,
        )
    )
