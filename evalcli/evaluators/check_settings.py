"""Settings of the deterministic checks (:mod:`evalcli.evaluators.checks`).

Each model validates what it can when the config is validated, by building the check it
configures: a regex that does not compile, a flag that does not exist, an invalid JSON Schema
or one that refers to a remote document, an empty text to look for, bounds the wrong way
round are all exit 2 with the ``file:line`` of the key, before any row runs. A schema in a
file is read and checked by the evaluator's factory, which knows where the config is.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from evalcli.evaluators.declaration import EvaluatorParams, Options
from evalcli.evaluators.params import Threshold
from evalcli.metrics import checks as m

_NO_THRESHOLD = {"threshold": "does not apply: a check passes or fails (see its params)"}


class ExactMatchOptions(Options):
    """SQuAD-style normalizations, each off by default."""

    ignore_case: StrictBool = False
    ignore_whitespace: StrictBool = False
    ignore_punctuation: StrictBool = False
    ignore_articles: StrictBool = False


class ContainsOptions(Options):
    """What to look for: ``value`` (a text or a list), ``mode`` any/all, ``ignore_case``."""

    value: StrictStr | list[StrictStr] = Field(description="a text or a list of texts")
    mode: Literal["any", "all"] = "any"
    ignore_case: StrictBool = False

    @field_validator("value")
    @classmethod
    def _usable(cls, value: str | list[str]) -> str | list[str]:
        m.Contains(value if isinstance(value, str) else tuple(value))  # empty text or list
        return value


class RegexOptions(Options):
    """The pattern (compiled here, so a bad one fails ``validate``) and how to apply it."""

    flags: list[StrictStr] = Field(default_factory=list)  # before pattern: compiled with it
    pattern: StrictStr = Field(description="a regular expression (Python / regex syntax)")
    full_match: StrictBool = False
    must_match: StrictBool = True
    timeout_s: float = Field(default=1.0, gt=0.0, le=600.0)

    @field_validator("flags")
    @classmethod
    def _known_flags(cls, flags: list[str]) -> list[str]:
        m.compile_pattern("", flags)
        return flags

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str, info: ValidationInfo) -> str:
        m.compile_pattern(pattern, info.data.get("flags", ()))
        return pattern


class JsonSchemaOptions(Options):
    """The schema, inline (``schema``) or in a file (``schema_file``, relative to the config)."""

    schema_: Any = Field(default=None, alias="schema")
    schema_file: StrictStr | None = None
    check_formats: StrictBool = False

    @field_validator("schema_")
    @classmethod
    def _valid_schema(cls, schema: Any) -> Any:
        if schema is not None:
            m.compile_schema(schema)
        return schema

    @model_validator(mode="after")
    def _one_source(self) -> JsonSchemaOptions:
        if (self.schema_ is None) == (self.schema_file is None):
            raise ValueError("set either schema (inline) or schema_file (a path), not both")
        return self


class LengthOptions(Options):
    """Bounds (inclusive) in ``chars`` or ``words``; at least one of ``min`` and ``max``."""

    unit: Literal["chars", "words"] = "chars"
    min: StrictInt | None = Field(default=None, ge=0)
    max: StrictInt | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> LengthOptions:
        m.Length(self.unit, self.min, self.max)
        return self


class SimilarityOptions(Options):
    """Compare case-insensitively."""

    ignore_case: StrictBool = False


class ExactMatchParams(EvaluatorParams):
    """Settings of ``exact_match``."""

    refused = _NO_THRESHOLD
    params: ExactMatchOptions = Field(default_factory=ExactMatchOptions)


class ContainsParams(EvaluatorParams):
    """Settings of ``contains`` and ``not_contains`` (``params.value`` required)."""

    refused = _NO_THRESHOLD
    params: ContainsOptions = Field(description="{value: <text or list of texts>}")


class RegexParams(EvaluatorParams):
    """Settings of ``regex`` (``params.pattern`` required)."""

    refused = _NO_THRESHOLD
    params: RegexOptions = Field(description="{pattern: <regular expression>}")


class JsonValidParams(EvaluatorParams):
    """``json_valid`` takes no settings."""

    refused = _NO_THRESHOLD


class JsonSchemaParams(EvaluatorParams):
    """Settings of ``json_schema`` (``params.schema`` or ``params.schema_file`` required)."""

    refused = _NO_THRESHOLD
    params: JsonSchemaOptions = Field(description="{schema: {...}} or {schema_file: <path>}")


class LengthParams(EvaluatorParams):
    """Settings of ``length`` (``params.min`` and/or ``params.max`` required)."""

    refused = _NO_THRESHOLD
    params: LengthOptions = Field(description="{min: <n>, max: <n>, unit: chars or words}")


class SimilarityParams(EvaluatorParams):
    """Settings of ``similarity_ratio``: the pass threshold (0-1) and ``params``."""

    threshold: Threshold | None = None
    params: SimilarityOptions = Field(default_factory=SimilarityOptions)
