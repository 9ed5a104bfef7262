"""What an evaluator is: declared inputs and outputs, and a pure ``evaluate`` call.

Evaluators are stateless after construction: the runner may call ``evaluate`` from many
threads (judge evaluators) or from forked worker processes (CPU-bound NLP metrics) at once.
Outputs are declared up front with a :class:`Role` so that aggregation, CSV headers and
``compare`` never have to guess meaning from key suffixes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from evalcli.evaluators.context import BuildContext, EvalContext


class Family(StrEnum):
    """Evaluator families, as shown by ``list-evaluators``."""

    NLP = "nlp"
    QUALITY = "quality"
    SAFETY = "safety"
    ATTACK = "attack"
    COMPOSITE = "composite"
    CUSTOM = "custom"


class Role(StrEnum):
    """What an output key means (drives metrics, CSV and comparisons)."""

    SCORE = "score"  # numeric; averaged over scored rows
    RESULT = "result"  # "pass"/"fail"; pass rate over scored rows
    THRESHOLD = "threshold"  # the threshold used; never averaged
    REASON = "reason"  # free text explanation
    SEVERITY = "severity"  # 0-7 harm severity; averaged, and a defect rate
    SEVERITY_LABEL = "severity_label"  # Very low / Low / Medium / High; distribution
    LABEL = "label"  # boolean verdict; share of true labels
    DETAILS = "details"  # JSON object of sub-verdicts
    PROMPT_TOKENS = "prompt_tokens"  # token counts; summed into usage, not averaged
    COMPLETION_TOKENS = "completion_tokens"
    INFO = "info"  # other bookkeeping (prompt hash, raw judge output)


@dataclass(frozen=True)
class InputSpec:
    """One evaluator input (``query``, ``response``, ``context``, ``ground_truth``, ...)."""

    name: str
    required: bool = True
    kind: Literal["text", "any"] = "text"


@dataclass(frozen=True)
class OutputField:
    """One declared output key and how it is aggregated.

    Args:
        key: Row key, e.g. ``bleu`` or ``rouge_precision_result``.
        role: Meaning of the value.
        stem: Name used for derived metrics (``<alias>.<stem>_pass_rate``); defaults to key.
        higher_is_better: Direction for scores (None when not a score).
        primary: The headline result: its pass rate is ``<alias>.pass_rate``.
        defect_threshold: SEVERITY only: severities at or above count as defects.
        label_metric: LABEL only: ``defect_rate`` (true = problem) or ``passing_rate``.
    """

    key: str
    role: Role
    stem: str = ""
    higher_is_better: bool | None = None
    primary: bool = False
    defect_threshold: int | None = None
    label_metric: Literal["defect_rate", "passing_rate"] = "defect_rate"

    @property
    def metric_stem(self) -> str:
        """``stem`` or, by default, the key."""
        return self.stem or self.key


Outputs = dict[str, Any]


class Evaluator(ABC):
    """A configured evaluator instance bound to an alias.

    Subclasses set ``inputs``/``outputs`` in ``__init__`` and implement :meth:`evaluate`.
    ``execution`` tells the runner where to run it: ``"cpu"`` (process pool, batched) or
    ``"io"`` (thread pool, for network-bound calls).
    """

    execution: Literal["cpu", "io"] = "io"
    #: Composite evaluators list their members; the runner runs each as its own task.
    members: tuple[Evaluator, ...] = ()

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
            ctx: Per-row helpers (shared tokenization, judge access, usage accounting).

        Returns:
            Output keys (a subset of the declared ``outputs``).

        Raises:
            evalcli.errors.RowError: the row cannot be scored (recorded, never fatal).
        """

    def describe_params(self) -> dict[str, Any]:
        """Effective parameters, recorded in results for reproducibility."""
        return {}


Factory = Callable[[str, Any, "BuildContext"], Evaluator]


@dataclass(frozen=True)
class EvaluatorInfo:
    """A registry entry: everything ``list-evaluators`` shows, plus how to build one."""

    name: str
    family: Family
    description: str
    inputs: tuple[InputSpec, ...]
    outputs: tuple[str, ...]
    factory: Factory
    default_threshold: float | None = None
    source: str = "builtin"
    version: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)
