"""What an evaluator instance is: declared inputs and outputs, ``evaluate``, and capabilities.

Evaluators are stateless after construction: the runner may call ``evaluate`` from many
threads (judge evaluators) or from forked worker processes (CPU-bound NLP metrics) at once.

Everything the core asks of an evaluator is an attribute or method of :class:`Evaluator`,
with a default here, so a subclass overrides only what it does differently and the core never
probes for optional members. The declaration types live in
:mod:`evalcli.evaluators.declaration` and are re-exported here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from evalcli.evaluators.declaration import (
    EvaluatorInfo,
    EvaluatorParams,
    Factory,
    Family,
    InputSpec,
    OutputField,
    Outputs,
    Role,
)
from evalcli.evaluators.turns import mean_of_turns

if TYPE_CHECKING:
    from evalcli.config import Pricing
    from evalcli.corpus import CorpusReducer
    from evalcli.evaluators.context import EvalContext

__all__ = [
    "Evaluator",
    "EvaluatorInfo",
    "EvaluatorParams",
    "Factory",
    "Family",
    "InputSpec",
    "OutputField",
    "Outputs",
    "Role",
]


class Evaluator(ABC):
    """A configured evaluator instance bound to an alias.

    Subclasses pass ``inputs``/``outputs`` to ``__init__`` and implement :meth:`evaluate`.
    The class attributes below are its capabilities; the defaults suit an evaluator that
    calls a service once per row.

    Attributes:
        execution: ``"cpu"`` runs it in the forked process pool, in batches (pure CPU work;
            instances must survive a fork); ``"io"`` in the thread pool (network-bound).
        members: Composite evaluators list their members; the runner runs each as its own
            task and merges their outputs under the composite's alias.
        family: The declaration's family (stamped by the plan; recorded in results.json).
        open_outputs: Keys may appear that no output field declares (a code evaluator
            returning a dict): their metrics are learned from values (:meth:`runtime_fields`)
            and CSV gathers them in one JSON column.
        extra_csv_keys: Row keys with a CSV column that no output field declares.
        prompt_sha256: The rubric's hash (a mapping per member for composites), recorded.
        judge_label: The model or service it calls, recorded (no secrets).
        pricing: Token prices of the model it calls (cost in the usage report), if known.
    """

    execution: Literal["cpu", "io"] = "io"
    members: tuple[Evaluator, ...] = ()
    family: str = ""
    open_outputs: bool = False
    extra_csv_keys: tuple[str, ...] = ()
    prompt_sha256: str | dict[str, str | None] | None = None
    judge_label: str | None = None
    pricing: Pricing | None = None

    def __init__(
        self, alias: str, name: str, inputs: tuple[InputSpec, ...], outputs: tuple[OutputField, ...]
    ):
        self.alias = alias
        self.name = name
        self.inputs = inputs
        self.outputs = outputs

    @abstractmethod
    def evaluate(self, inputs: dict[str, Any], ctx: EvalContext) -> Outputs:
        """Score one row.

        Args:
            inputs: Resolved inputs (required ones always present).
            ctx: Per-row helpers (the row's line, shared tokenization).

        Returns:
            Output keys (a subset of the declared ``outputs``).

        Raises:
            evalcli.errors.RowError: the row cannot be scored (recorded, never fatal).
        """

    def describe_params(self) -> dict[str, Any]:
        """Effective parameters, recorded in results for reproducibility."""
        return {}

    @property
    def remote_calls_per_row(self) -> int:
        """Calls to services one evaluation makes that ``run --estimate`` cannot see into.

        Judge and Content Safety evaluators are counted request by request; any other
        ``io`` evaluator is assumed to make one call per evaluation, a ``cpu`` one none.
        """
        return 0 if self.execution == "cpu" else 1

    def warm_up(self) -> None:  # noqa: B027  (a capability: doing nothing is the default)
        """Load what every row needs (tokenizers, tables) once, before the runner forks."""

    def combine_turns(self, turns: Sequence[Outputs]) -> Outputs:
        """One row result from the results of a conversation's turns.

        The default averages numeric scores, sums token counts, keeps the last turn's texts
        and recomputes pass/fail from the averaged score. Safety evaluators override it to
        keep their worst turn whole.
        """
        return mean_of_turns(self.outputs, turns)

    def corpus_reducer(self, key: str) -> CorpusReducer | None:
        """How the statistics of the ``CORPUS_STATS`` output ``key``, summed over the scored
        rows, become the corpus metric (None: the metric stays empty). A new reducer per call:
        the aggregator keeps one per run."""
        return None

    def runtime_fields(self, key: str, value: Any) -> tuple[OutputField, ...]:
        """Fields of an undeclared key, from its first value (only with ``open_outputs``)."""
        return ()
