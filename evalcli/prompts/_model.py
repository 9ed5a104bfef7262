"""Data types of a loaded prompt file, and rendering."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, NamedTuple, cast

from jinja2 import Template, UndefinedError

from ._errors import OutputSpecError, PromptRenderError
from ._jinja import compile_section

Role = Literal["system", "developer", "user", "assistant"]
ROLES: tuple[Role, ...] = ("system", "developer", "user", "assistant")
OutputKind = Literal["score", "label"]
Direction = Literal["higher", "lower"]
PromptFormat = Literal["evalcli", "prompty"]
ScoreType = Literal["integer", "number"]


def _empty_mapping() -> Mapping[str, Any]:
    return MappingProxyType({})


_UNDEFINED_NAME = re.compile(r"^'([^']+)' is undefined$")


class Section(NamedTuple):
    """One message of the prompt, as written in the file (before rendering).

    Attributes:
        role: Message role.
        source: Jinja template text of the message, without surrounding blank lines.
        line: File line number of the first line of ``source``.
    """

    role: Role
    source: str
    line: int


@dataclass(frozen=True)
class InputDecl:
    """A declared input variable of a prompt.

    Attributes:
        name: Variable name as used in the template.
        type: Declared type (informational: ``string``, ``object``...).
        required: Whether a row must supply a non-null value.
        description: Human description (may be empty).
        default: Value used when an optional input is absent (``None`` renders as empty).
        sample: Example value from the file, if any (never used as a default).
        line: Line of the declaration in the file, for diagnostics.
    """

    name: str
    type: str = "string"
    required: bool = True
    description: str = ""
    default: Any = None
    sample: Any = None
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class LintProblem:
    """A problem found by :func:`evalcli.prompts.lint`.

    Attributes:
        message: What is wrong.
        line: File line it points at, or ``None``.
    """

    message: str
    line: int | None = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line is not None else self.message


@dataclass(frozen=True)
class DeclaredScore:
    """A numeric ``score`` under a Prompty file's ``outputs`` block (which has no range).

    Prompty files written for promptflow or the Azure AI Evaluation SDK declare what the judge
    answers as ``outputs: {score: {type: int}, ...}``; the scale is only in the rubric text.

    Attributes:
        type: ``integer`` (declared ``int`` or ``integer``) or ``number`` (``number``,
            ``float``, ``double``).
        declared: The type as written in the file.
        line: File line of the declaration.
    """

    type: ScoreType
    declared: str
    line: int


_OUTPUT_KEYS = ("kind", "min", "max", "threshold", "direction", "details")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class OutputSpec:
    """What the judge answers and how an answer becomes pass/fail.

    For ``kind="score"`` the judge answers an integer in ``[min, max]``; with ``direction``
    ``higher`` a row passes when ``score >= threshold``, with ``lower`` when
    ``score <= threshold``. For ``kind="label"`` the judge answers a boolean; ``direction``
    says whether ``true`` is the good outcome (``higher``) or the problem found (``lower``);
    :meth:`from_mapping` requires it for labels, since a wrong guess would invert every
    verdict. ``details`` names the boolean keys expected under ``details``.

    Attributes:
        kind: ``score`` or ``label``.
        min: Lowest valid score (scores only).
        max: Highest valid score (scores only).
        threshold: Default pass threshold (scores only; may be absent).
        direction: Which way is better.
        details: Expected detail keys (labels only).
    """

    kind: OutputKind = "score"
    min: int | None = None
    max: int | None = None
    threshold: float | None = None
    direction: Direction = "higher"
    details: tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> OutputSpec:
        """Build and validate a spec from its YAML/config form.

        Raises:
            OutputSpecError: Naming the offending key.
        """
        unknown = [k for k in data if k not in _OUTPUT_KEYS]
        if unknown:
            raise OutputSpecError(
                str(unknown[0]),
                f"unknown output key {unknown[0]!r} (allowed: {', '.join(_OUTPUT_KEYS)})",
            )
        kind = data.get("kind", "score")
        if kind not in ("score", "label"):
            raise OutputSpecError("kind", f"output kind must be 'score' or 'label', not {kind!r}")
        direction = data.get("direction", "higher")
        if direction not in ("higher", "lower"):
            raise OutputSpecError(
                "direction", f"output direction must be 'higher' or 'lower', not {direction!r}"
            )
        if kind == "label":
            for key in ("min", "max", "threshold"):
                if data.get(key) is not None:
                    raise OutputSpecError(key, f"{key!r} does not apply to label outputs")
            if "direction" not in data:
                # No default on purpose: "true" means a defect for some labels and a pass
                # for others, and guessing wrong would invert every verdict.
                raise OutputSpecError(
                    "direction",
                    "label outputs need a direction: 'lower' (true means a problem was "
                    "found) or 'higher' (true is the good outcome)",
                )
            details = data.get("details") or []
            if not isinstance(details, list) or not all(isinstance(d, str) for d in details):
                raise OutputSpecError("details", "output details must be a list of key names")
            return cls(kind="label", direction=direction, details=tuple(details))

        if data.get("details"):
            raise OutputSpecError("details", "'details' applies to label outputs only")
        lo, hi, threshold = data.get("min"), data.get("max"), data.get("threshold")
        for key, value in (("min", lo), ("max", hi)):
            if value is None:
                raise OutputSpecError(key, f"score outputs need an integer {key!r}")
            if not isinstance(value, int) or isinstance(value, bool):
                raise OutputSpecError(key, f"output {key!r} must be an integer, not {value!r}")
        lo, hi = cast(int, lo), cast(int, hi)
        if lo >= hi:
            raise OutputSpecError("max", f"output max ({hi}) must be greater than min ({lo})")
        if threshold is not None:
            if not _is_number(threshold):
                raise OutputSpecError(
                    "threshold", f"output threshold must be a number, not {threshold!r}"
                )
            if not lo <= threshold <= hi:
                raise OutputSpecError(
                    "threshold", f"output threshold {threshold} is outside [{lo}, {hi}]"
                )
        return cls(
            kind="score",
            min=lo,
            max=hi,
            threshold=threshold,
            direction=direction,
        )

    def as_mapping(self) -> dict[str, Any]:
        """The spec in its YAML/config form (only the keys that apply to its kind)."""
        if self.kind == "label":
            return {"kind": "label", "direction": self.direction, "details": list(self.details)}
        out: dict[str, Any] = {
            "kind": "score",
            "min": self.min,
            "max": self.max,
            "direction": self.direction,
        }
        if self.threshold is not None:
            out["threshold"] = self.threshold
        return out

    @classmethod
    def resolve(
        cls, base: OutputSpec | None, override: Mapping[str, Any] | OutputSpec | None
    ) -> OutputSpec:
        """Merge a config override into a file's spec, key by key (the override wins).

        Args:
            base: The spec from the prompt file, if it has one.
            override: Keys given in the config (or a whole spec).

        Raises:
            OutputSpecError: When the merged spec is incomplete or invalid, e.g. a Prompty
                file without an output spec and no ``min``/``max`` in the config.
        """
        if isinstance(override, OutputSpec):
            return override
        merged: dict[str, Any] = base.as_mapping() if base is not None else {}
        if override:
            if "kind" in override and override["kind"] != merged.get("kind", "score"):
                merged = {}  # a different kind shares no keys with the old one
            merged.update(override)
        if not merged:
            raise OutputSpecError(
                None, "no output spec: give kind, min, max (and threshold) in the config"
            )
        return cls.from_mapping(merged)

    def passes(self, value: float | bool, threshold: float | None = None) -> bool:
        """Whether ``value`` passes, using ``threshold`` or the spec's default.

        Raises:
            ValueError: For a score spec with no threshold at all.
        """
        if self.kind == "label":
            good = bool(value)
            return good if self.direction == "higher" else not good
        limit = self.threshold if threshold is None else threshold
        if limit is None:
            raise ValueError("this output spec has no threshold")
        return value >= limit if self.direction == "higher" else value <= limit


@dataclass(frozen=True, eq=False)
class PromptFile:
    """A loaded, compiled prompt file. Build it with :func:`evalcli.prompts.load_prompt`.

    Instances are immutable and safe to share between threads; each section's template is
    compiled once, when the instance is created. Equality is identity; compare ``sha256``
    to know whether two files hold the same bytes.

    Attributes:
        path: Where the file was read from.
        name: Prompt name (``name`` key; for Prompty files without one, the file stem).
        version: ``version`` key as text, if present.
        description: ``description`` key (may be empty).
        inputs: Declared inputs, in file order.
        model_parameters: ``model.parameters`` (temperature, max_tokens, response_format...);
            a ``response_format`` of type ``json`` is stored as ``json_object``.
        output: Output spec from the file, or ``None`` (Prompty files usually lack one).
        sections: Role sections of the body, in order.
        sha256: Hex digest of the file's bytes; record it with results.
        format: ``evalcli`` (the file has an ``output`` block) or ``prompty``.
        model_configuration: Prompty ``model.configuration``, kept for reference only.
        sample: ``sample`` values from the front matter, if a mapping.
        declared_outputs: Prompty ``outputs`` block, kept as written.
        declared_score: The ``score`` of that block when it is declared numeric, else ``None``.
        load_warnings: Problems noticed while loading that :func:`lint` reports.
    """

    path: Path
    name: str
    version: str | None
    description: str
    inputs: Mapping[str, InputDecl]
    model_parameters: Mapping[str, Any]
    output: OutputSpec | None
    sections: tuple[Section, ...]
    sha256: str
    format: PromptFormat
    model_configuration: Mapping[str, Any] = field(default_factory=_empty_mapping)
    sample: Mapping[str, Any] = field(default_factory=_empty_mapping)
    declared_outputs: Mapping[str, Any] = field(default_factory=_empty_mapping)
    declared_score: DeclaredScore | None = None
    load_warnings: tuple[LintProblem, ...] = ()
    _templates: tuple[tuple[Role, Template], ...] = field(init=False, repr=False)
    _defaults: Mapping[str, Any] = field(init=False, repr=False)
    _required: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        templates = tuple(
            (s.role, compile_section(self.path, s.source, s.line)) for s in self.sections
        )
        # frozen dataclass: derived caches are set once, here, through object.__setattr__
        object.__setattr__(self, "_templates", templates)
        object.__setattr__(
            self,
            "_defaults",
            {n: d.default for n, d in self.inputs.items() if not d.required},
        )
        object.__setattr__(
            self, "_required", tuple(n for n, d in self.inputs.items() if d.required)
        )

    @cached_property
    def required_inputs(self) -> frozenset[str]:
        """Names of the inputs a row must supply."""
        return frozenset(self._required)

    def with_output(self, override: Mapping[str, Any] | OutputSpec | None) -> PromptFile:
        """A copy whose output spec is the file's spec merged with ``override``.

        Raises:
            OutputSpecError: When the merged spec is incomplete or invalid.
        """
        return dataclasses.replace(self, output=OutputSpec.resolve(self.output, override))

    def render(self, variables: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Render the chat messages for one row.

        Each section was split from the file before any rendering, so values can never
        create or alter messages: one section always gives exactly one message.
        Optional inputs that are absent take their default (``None`` renders as empty
        text and is falsy in ``{% if %}``). Variables not declared are passed through.

        Args:
            variables: Input values by name.

        Returns:
            ``[{"role": ..., "content": ...}, ...]``, one dict per section, newly built.

        Raises:
            PromptRenderError: A required input is missing or null, the template uses an
                undefined name, or the template fails at run time (including a sandbox
                violation).
        """
        context = dict(self._defaults)
        context.update(variables)
        for name in self._required:
            if context.get(name) is None:
                what = "is null" if name in variables else "is missing"
                raise PromptRenderError(self.path, name, f"required input {name!r} {what}")
        messages: list[dict[str, Any]] = []
        for role, template in self._templates:
            try:
                content = template.render(context)
            except UndefinedError as exc:
                match = _UNDEFINED_NAME.match(str(exc))
                variable = match.group(1) if match else None
                raise PromptRenderError(self.path, variable, f"{role} section: {exc}") from None
            except Exception as exc:  # a template is user code: any failure is a render error
                raise PromptRenderError(
                    self.path, None, f"{role} section: {type(exc).__name__}: {exc}"
                ) from None
            messages.append({"role": role, "content": content})
        return messages
