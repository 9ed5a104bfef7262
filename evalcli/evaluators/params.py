"""Evaluator settings: field types shared by the settings models, and validating a spec.

A spec under ``evaluators:`` has two parts. The *envelope* - ``use``, ``columns``,
``aggregation``, ``eval_last_turn`` - is read by the core and validated for every evaluator
alike (:class:`evalcli.config.EvaluatorConfig`). Every other key (``threshold``, ``backend``,
``prompt``, ``judge``, ``defect_threshold``, ``params``, ...) belongs to the evaluator: the
plan validates them with the model its declaration names (:func:`parse_params`), so built-ins
and plugins get the same checks and the same messages, with ``file:line:col``.

The YAML users write keeps its shape: the model's fields are the keys beside ``use``, and
``params:`` is one of them, typed with a nested model (:class:`Options`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, ValidationError

from evalcli.config import EvaluatorConfig, JudgeConfig, LoadedConfig, SafetyBackend
from evalcli.config_errors import pydantic_to_config_error
from evalcli.errors import ConfigError
from evalcli.evaluators.declaration import EvaluatorInfo, EvaluatorParams, Options
from evalcli.safety.severity import LABELS, band_name, defect_level, pass_level
from evalcli.suggest import did_you_mean
from evalcli.yamlsrc import Loc, dotted

if TYPE_CHECKING:
    from evalcli.evaluators.context import BuildContext
    from evalcli.registry import Registry

__all__ = [
    "DefectThreshold",
    "EvaluatorParams",
    "JudgedParams",
    "Options",
    "SafetyBackend",
    "SeverityThreshold",
    "Threshold",
    "check_threshold",
    "parse_params",
]

SEVERITY_SCALE = f"a severity 0-7 or a label ({', '.join(LABELS)})"


def _number(value: Any) -> Any:
    # YAML `yes`/`true` would otherwise silently become 1.0, and "Low" means nothing here.
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    if isinstance(value, str):
        if band_name(value) is not None:
            raise ValueError(
                "must be a number: severity labels apply only to evaluators on the 0-7 "
                f"severity scale ({', '.join(LABELS)})"
            )
        raise ValueError(f"must be a number, got the text {value!r}")
    return value


def _severity(value: Any) -> Any:
    # A label means the band's highest level (a row passes up to it); numbers are
    # range-checked against the scale by check_threshold, with the scale in the message.
    if isinstance(value, bool | str):
        return pass_level(value)
    return value


#: A pass threshold: a number (never a boolean or text). Its range is the evaluator's scale,
#: checked with :func:`check_threshold` once the scale is known (a rubric may set it).
Threshold = Annotated[float, BeforeValidator(_number)]
#: A pass threshold on the 0-7 severity scale: a number, or a label read as its band's top.
SeverityThreshold = Annotated[float, BeforeValidator(_severity)]
#: Severities at or above it are defects: 0-7, or a label read as its band's lowest level.
DefectThreshold = Annotated[int, BeforeValidator(defect_level)]


class JudgedParams(EvaluatorParams):
    """Settings of an evaluator that asks a judge model with a rubric file.

    Attributes:
        judge: This evaluator's own judge (default: the run's ``judge:``).
        prompt: The rubric file, relative to the config (default: the evaluator's own).
    """

    judge: JudgeConfig | None = None
    prompt: str | None = None


def check_threshold(
    value: float,
    lo: float,
    hi: float,
    ctx: BuildContext,
    loc: Loc = ("threshold",),
    *,
    scale: str | None = None,
) -> float:
    """``value`` if it lies on the evaluator's scale ``lo..hi``, else a ConfigError at ``loc``.

    Args:
        scale: How to name the scale in the message (default: ``between lo and hi``).
    """
    number = float(value)
    if not (math.isfinite(number) and lo <= number <= hi):
        key = f"evaluators.{ctx.alias}.{dotted(loc)}"
        expected = scale or f"between {lo:g} and {hi:g} (the scale of this evaluator)"
        raise ConfigError(f"{key} must be {expected}, got {number:g}", where=ctx.where(*loc))
    return number


def check_members(
    keys: Iterable[str], names: tuple[str, ...], ctx: BuildContext, loc: Loc = ("threshold",)
) -> None:
    """Every key of a per-member mapping (``threshold: {member: ...}``) names a member."""
    for key in keys:
        if key not in names:
            raise ConfigError(
                f"evaluators.{ctx.alias}.{dotted(loc)}: {key!r} is not a member",
                where=ctx.where(*loc, key, key=True),
                hint=did_you_mean(key, names) or f"members: {', '.join(names)}",
            )


def parse_params(
    info: EvaluatorInfo,
    alias: str,
    spec: EvaluatorConfig,
    loaded: LoadedConfig,
    registry: Registry | None = None,
) -> EvaluatorParams:
    """Validate the evaluator-specific keys of a spec with the declared settings model.

    Args:
        info: The evaluator's declaration.
        alias: The spec's alias (for locations).
        spec: The validated envelope; its extra keys are the evaluator's.
        loaded: The config (for ``file:line:col``).
        registry: When given, a key this evaluator does not take but others do is reported
            as ``applies only to <those evaluators>``.

    Raises:
        ConfigError: the first problem, at its key, with a "did you mean" where one fits.
    """
    raw = dict(spec.model_extra or {})
    model = info.params_model
    base: Loc = ("evaluators", alias)
    _refuse(model.refused, raw, base, loaded)
    nested = raw.get("params")
    options = _options_model(model)
    if options is not None and isinstance(nested, dict):
        _refuse(options.refused, nested, (*base, "params"), loaded)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise _params_error(exc, info, base, loaded, registry) from None


def _refuse(refused: dict[str, str], raw: dict[str, Any], base: Loc, loaded: LoadedConfig) -> None:
    for key, why in refused.items():
        if key in raw:
            raise ConfigError(
                f"{dotted((*base, key))} {why}", where=loaded.source.where((*base, key), key=True)
            )


def _options_model(model: type[BaseModel]) -> type[Options] | None:
    field = model.model_fields.get("params")
    annotation = field.annotation if field is not None else None
    if isinstance(annotation, type) and issubclass(annotation, Options):
        return annotation
    return None


def _params_error(
    exc: ValidationError,
    info: EvaluatorInfo,
    base: Loc,
    loaded: LoadedConfig,
    registry: Registry | None,
) -> ConfigError:
    err = exc.errors(include_input=False, include_url=False)[0]
    loc = tuple(err["loc"])
    model = info.params_model
    if err["type"] == "extra_forbidden" and len(loc) == 1:
        key = str(loc[0])
        where = loaded.source.where((*base, key), key=True)
        takers = [n for n in registry.takers(key) if n != info.name] if registry else []
        if takers:
            shown = takers[:8] + ([f"{len(takers) - 8} more"] if len(takers) > 8 else [])
            names = ", ".join(shown[:-1]) + " and " + shown[-1] if len(shown) > 1 else shown[0]
            message = f"{dotted((*base, key))} applies only to {names} evaluators"
            return ConfigError(message, where=where)
        allowed = set(model.model_fields) | set(EvaluatorConfig.model_fields)
        hint = did_you_mean(key, allowed) or "allowed keys: " + ", ".join(sorted(allowed))
        return ConfigError(f"unknown key {dotted((*base, key))!r}", where=where, hint=hint)
    error = pydantic_to_config_error(exc, loaded.source, model, prefix=base)
    if err["type"] == "extra_forbidden" and loc[:1] == ("params",) and not error.hint:
        error.hint = f"{info.name} takes no params"
    if err["type"] == "missing" and error.hint is None:
        described = _description(model, loc)
        if described:
            error.hint = f"set {dotted(loc)}: {described}"
    return error


def _description(model: type[BaseModel], loc: tuple[Any, ...]) -> str | None:
    """The ``description`` of the field at ``loc`` (through nested models), if any."""
    current: Any = model
    description = None
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        description, current = field.description, field.annotation
    return description
