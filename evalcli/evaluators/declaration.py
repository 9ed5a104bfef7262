"""What an evaluator declares: its name, family, inputs, outputs, settings model and factory.

One :class:`EvaluatorInfo` per evaluator is everything the core knows before building it:
``list-evaluators`` prints it, the config layer validates the evaluator's own keys with its
``params_model``, and the plan calls its ``factory``. Built-ins and plugins declare the same
way (see :mod:`evalcli.plugin`).

Outputs are declared once, as :class:`OutputField` values whose :class:`Role` says what each
key means, so that aggregation, the console table, CSV headers and ``compare`` never guess
meaning from key names. Fields of evaluators whose keys depend on the alias (``use: code``,
``use: prompt``) are declared with the placeholder ``<alias>``; the built instance holds the
real ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from evalcli.evaluators.base import Evaluator
    from evalcli.evaluators.context import BuildContext


class Family(StrEnum):
    """Evaluator families, as shown by ``list-evaluators`` and recorded in results.json."""

    NLP = "nlp"
    #: Deterministic pass/fail checks (exact match, contains, regex, JSON, length, ...).
    CHECK = "check"
    QUALITY = "quality"
    #: Harms on the 0-7 severity scale (violence, sexual, self_harm, hate_unfairness).
    SAFETY = "safety"
    #: Yes/no safety verdicts: indirect_attack, protected_material, groundedness_pro. The
    #: recorded value stays "attack", the name results files and ``compare`` have carried
    #: since the first release; changing it is a change of the results schema.
    SAFETY_LABEL = "attack"
    COMPOSITE = "composite"
    CUSTOM = "custom"


class Role(StrEnum):
    """What an output key means (drives metrics, CSV and comparisons)."""

    SCORE = "score"  # numeric; averaged over scored rows
    RESULT = "result"  # "pass"/"fail"; pass rate over scored rows
    THRESHOLD = "threshold"  # the threshold used; never averaged
    REASON = "reason"  # free text explanation
    SEVERITY = "severity"  # 0-7 harm severity; averaged, and a defect rate
    SEVERITY_LABEL = "severity_label"  # the severity's band name; a distribution
    LABEL = "label"  # boolean verdict; share of true labels
    DETAILS = "details"  # JSON object of sub-verdicts
    PROMPT_TOKENS = "prompt_tokens"  # token counts; summed into usage, not averaged
    COMPLETION_TOKENS = "completion_tokens"
    INFO = "info"  # other bookkeeping (prompt hash, raw judge output)
    #: A row's sufficient statistics (a JSON list of numbers): summed element by element
    #: over the scored rows and reduced by the evaluator's ``corpus_reducer`` to the corpus
    #: metric ``<alias>.corpus_<stem>`` (see :mod:`evalcli.corpus`); never averaged.
    CORPUS_STATS = "corpus_stats"


#: Roles that are bookkeeping rather than results (left out of ``list-evaluators``).
BOOKKEEPING_ROLES = frozenset({Role.PROMPT_TOKENS, Role.COMPLETION_TOKENS, Role.INFO})
TOKEN_ROLES = frozenset({Role.PROMPT_TOKENS, Role.COMPLETION_TOKENS})


@dataclass(frozen=True)
class InputSpec:
    """One evaluator input (``query``, ``response``, ``context``, ``ground_truth``, ...).

    Attributes:
        name: Input name, mapped from the row by ``columns``.
        required: A row without it is a ``missing-input`` row error (else the input is absent).
        kind: ``text`` inputs must be strings; ``texts`` a string or a list of strings
            (several references or accepted answers); ``any`` takes any JSON value.
    """

    name: str
    required: bool = True
    kind: Literal["text", "texts", "any"] = "text"


@dataclass(frozen=True)
class OutputField:
    """One declared output key and how it is aggregated.

    Args:
        key: Row key, e.g. ``bleu`` or ``rouge_precision_result``.
        role: Meaning of the value.
        stem: The subject the key belongs to; derived metrics are named after it
            (``<alias>.<stem>_pass_rate``) and the console groups a score with its rates by
            it. Defaults to the key.
        higher_is_better: Direction for scores and corpus statistics (None otherwise).
        primary: The headline result: its pass rate is ``<alias>.pass_rate``.
        defect_threshold: SEVERITY only: severities at or above count as defects.
        label_metric: LABEL only: ``defect_rate`` (true = problem), ``passing_rate`` (true =
            good) or ``detection_rate`` (true = something was detected that is neither a
            harm nor a pass: an attack found in an *input*, which says nothing about how the
            application answered; ``evalcli scorecard`` never counts it as a defect).
        range: SCORE/SEVERITY: the scale's (lowest, highest) value, when it is fixed. It is
            recorded with the run (``metric_info.<metric>.scale``) and chooses the report's
            chart: one bar per value on a short integer scale, bins on a continuous one.
            Leave it None when the scale is open; the report then charts the values seen.
        integer: SCORE/SEVERITY: every value is a whole number (judge grades, severities,
            relevance labels), so the scale is a set of steps rather than a continuum.
        default_threshold: SCORE/SEVERITY: the pass threshold when the config sets none.
    """

    key: str
    role: Role
    stem: str = ""
    higher_is_better: bool | None = None
    primary: bool = False
    defect_threshold: int | None = None
    label_metric: Literal["defect_rate", "passing_rate", "detection_rate"] = "defect_rate"
    range: tuple[float, float] | None = None
    default_threshold: float | None = None
    integer: bool = False

    @property
    def metric_stem(self) -> str:
        """``stem`` or, by default, the key."""
        return self.stem or self.key


Outputs = dict[str, Any]

#: Builds an evaluator: ``(alias, validated params model, build context) -> Evaluator``.
Factory = Callable[[str, Any, "BuildContext"], "Evaluator"]


class Options(BaseModel):
    """Base of the model of a ``params:`` mapping: unknown keys refused, values frozen.

    Attributes:
        refused: As :attr:`EvaluatorParams.refused`, for keys under ``params:``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    refused: ClassVar[dict[str, str]] = {}


class EvaluatorParams(BaseModel):
    """Base of every evaluator's settings model: unknown keys are refused, values frozen.

    Subclasses declare the keys their evaluator takes beside ``use`` (``threshold``,
    ``backend``, ``prompt``, ``judge``, ...) as fields, and narrow ``params`` to their own
    :class:`Options` model. Used as is, it declares an evaluator that takes no key besides
    the common ones (and at most an empty ``params: {}``).

    Attributes:
        refused: Keys other evaluators take that this one refuses, with the reason, written
            to follow the key: ``{"threshold": "does not apply: a yes/no label has no
            threshold"}`` gives ``evaluators.<alias>.threshold does not apply: ...``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    refused: ClassVar[dict[str, str]] = {}

    params: Options = Field(default_factory=Options)


@dataclass(frozen=True)
class EvaluatorInfo:
    """An evaluator's declaration: everything ``list-evaluators`` shows, plus how to build it.

    Attributes:
        name: The name users write in ``use:`` (or as the alias).
        family: Its family.
        description: One line for ``list-evaluators``.
        inputs: Declared inputs.
        outputs: Declared output fields (placeholders ``<alias>`` where keys depend on it).
        factory: Builds an instance from the validated settings.
        params_model: The pydantic model of every key of its spec besides ``use``,
            ``columns``, ``aggregation`` and ``eval_last_turn`` - ``threshold``, ``params``
            and whatever else it takes (see :mod:`evalcli.evaluators.params`).
        source: ``builtin`` or ``plugin:<distribution>`` (set by the registry).
        version: The distribution's version (set by the registry).
    """

    name: str
    family: Family
    description: str
    inputs: tuple[InputSpec, ...]
    outputs: tuple[OutputField, ...]
    factory: Factory
    params_model: type[EvaluatorParams] = EvaluatorParams
    source: str = "builtin"
    version: str = ""

    @property
    def output_keys(self) -> tuple[str, ...]:
        """Result keys, bookkeeping (token counts, prompt hashes) left out."""
        return tuple(f.key for f in self.outputs if f.role not in BOOKKEEPING_ROLES)

    @property
    def default_threshold(self) -> float | None:
        """The default pass threshold, when one value applies to every thresholded output."""
        values = {f.default_threshold for f in self.outputs if f.default_threshold is not None}
        return values.pop() if len(values) == 1 else None
