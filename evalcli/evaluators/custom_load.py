"""Loading a code evaluator: import the callable, construct it, read inputs and outputs.

See :mod:`evalcli.evaluators.custom` for what users write. Everything here runs while the run
is built, so every problem is a :class:`~evalcli.errors.ConfigError` (exit 2) naming the
config line, before any row is evaluated or any model is called.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import sys
import typing
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from evalcli.config import LoadedConfig
from evalcli.errors import ConfigError
from evalcli.evaluators.base import InputSpec, OutputField, Role
from evalcli.evaluators.context import BuildContext
from evalcli.suggest import did_you_mean

if TYPE_CHECKING:
    from evalcli.evaluators.custom import CodeParams

#: Row keys evalcli itself writes under ``outputs.<alias>.``; a custom key may not take them.
RESERVED_KEYS = frozenset({"error", "error_kind", "evaluation_per_turn"})
RESULT_SUFFIX, THRESHOLD_SUFFIX = "_result", "_threshold"


@dataclass(frozen=True)
class OutputPlan:
    """Which keys a code evaluator declares, their direction, and their thresholds.

    Attributes:
        keys: Declared keys (CSV columns and metrics known before the run).
        lower_is_better: Declared keys whose lower values are better.
        closed: Only declared keys may be returned.
        threshold: One threshold for every numeric key, per-key thresholds, or None.
    """

    keys: tuple[str, ...]
    lower_is_better: frozenset[str] = frozenset()
    closed: bool = False
    threshold: float | dict[str, float] | None = None

    def threshold_for(self, key: str) -> float | None:
        """The threshold that applies to ``key``, if any."""
        if isinstance(self.threshold, dict):
            return self.threshold.get(key)
        return self.threshold

    def is_derived(self, key: str, among: Collection[str] | None = None) -> bool:
        """Whether ``key`` is a ``<k>_result``/``<k>_threshold`` evalcli adds for ``<k>``.

        Args:
            key: The key to test.
            among: When given, ``<k>`` must be one of these keys too (a clash then means the
                same row would hold two values under one key).
        """
        for suffix in (RESULT_SUFFIX, THRESHOLD_SUFFIX):
            base = key.removesuffix(suffix)
            if base == key or self.threshold_for(base) is None:
                continue
            if among is None or base in among:
                return True
        return False

    def fields(self, key: str, alias: str) -> tuple[OutputField, ...]:
        """Output fields of one result key (plus its pass/fail when a threshold applies)."""
        out: tuple[OutputField, ...] = (
            OutputField(key, Role.SCORE, higher_is_better=key not in self.lower_is_better),
        )
        if self.threshold_for(key) is not None:
            out += (
                OutputField(f"{key}{RESULT_SUFFIX}", Role.RESULT, stem=key, primary=key == alias),
                OutputField(f"{key}{THRESHOLD_SUFFIX}", Role.THRESHOLD, stem=key),
            )
        return out


@dataclass(frozen=True)
class CodeParts:
    """A code evaluator's callable and what was read from it (shared by build and listing).

    Attributes:
        call: What is called per row, with the inputs as keyword arguments.
        inputs: Inputs read from the signature.
        outputs: Declared outputs.
        version: ``sha256:<prefix>`` of the source file, or the module's ``__version__``.
        params: The spec's ``params`` (recorded with the run).
    """

    call: Callable[..., Any]
    inputs: tuple[InputSpec, ...]
    outputs: OutputPlan
    version: str = ""
    params: dict[str, Any] = field(default_factory=dict)


def load_code(alias: str, spec: CodeParams, ctx: BuildContext) -> CodeParts:
    """Import the callable, construct it, and read its inputs and outputs.

    Raises:
        ConfigError: (exit 2) naming the config line and the problem: no ``function``, a
            file or name that does not exist, an import error, a constructor that rejects the
            params, something not callable, parameters that cannot be filled, bad outputs.
    """
    from evalcli.usercode import load_callable

    if not spec.function:
        raise ConfigError(
            f"evaluators.{alias} (use: code) needs 'function' "
            "(path/to/file.py:Name or package.module:Name)",
            where=ctx.where(key=True),
        )
    where = ctx.where("function")
    name = spec.function
    obj = load_callable(name, ctx.loaded.base_dir, where, what="evaluator function")
    params = spec.kwargs
    bound: dict[str, Any] = {}
    if inspect.isclass(obj):
        try:
            call = obj(**params)
        except Exception as exc:  # the constructor is user code: any failure is bad params
            shown = ", ".join(f"{k}={v!r}" for k, v in params.items()) or "no params"
            first_line = (str(exc).splitlines() or [""])[0]  # the message is one line
            raise ConfigError(
                f"{name}: {obj.__name__}({shown}) failed: {type(exc).__name__}: {first_line}",
                where=ctx.where("params") if params else where,
                hint="params are passed to the class's constructor as keyword arguments",
            ) from None
        if not callable(call):
            raise ConfigError(
                f"{name}: instances of {obj.__name__} are not callable; define "
                "__call__(self, <inputs>) returning the score",
                where=where,
            )
        hints_of: Any = type(call).__call__
    elif callable(obj):
        call, hints_of, bound = obj, obj, params
    else:
        raise ConfigError(
            f"{name} is not a function or a class (its type is {type(obj).__name__})",
            where=where,
        )
    if inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(hints_of):
        raise ConfigError(
            f"{name} is async; code evaluators are plain functions called from worker threads",
            where=where,
            hint="wrap it: def score(**inputs): return asyncio.run(your_async_score(**inputs))",
        )
    inputs, takes_any = _signature_inputs(call, name, bound, spec, ctx)
    if bound:
        call = functools.partial(obj, **bound)
    if not inputs:
        raise ConfigError(
            f"{name} takes no inputs: name the row values it needs as parameters "
            "(def score(response, ground_truth): ...)"
            + (" or map them under columns" if takes_any else ""),
            where=where,
        )
    return CodeParts(
        call,
        inputs,
        _output_plan(alias, spec, ctx, hints_of),
        _version(name, ctx.loaded),
        params,
    )


def _signature_inputs(
    target: Any, name: str, bound: dict[str, Any], spec: CodeParams, ctx: BuildContext
) -> tuple[tuple[InputSpec, ...], bool]:
    """Inputs from the parameters of ``target``; checks that bound params exist."""
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        raise ConfigError(
            f"cannot read the parameters of {name}", where=ctx.where("function")
        ) from None
    inputs: list[InputSpec] = []
    names: list[str] = []
    takes_any = False
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            takes_any = True
        elif p.kind is p.POSITIONAL_ONLY and p.default is p.empty:
            raise ConfigError(
                f"{name}: parameter {p.name!r} is positional-only, but evalcli passes inputs "
                "by keyword",
                where=ctx.where("function"),
            )
        elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            names.append(p.name)
            if p.name not in bound:
                inputs.append(InputSpec(p.name, required=p.default is p.empty, kind="any"))
    for key in bound:
        if key not in names and not takes_any:
            raise ConfigError(
                f"{name} has no parameter {key!r} to receive params.{key}",
                where=ctx.where("params", key, key=True),
                hint=did_you_mean(key, names) or f"its parameters: {', '.join(names) or 'none'}",
            )
    if takes_any:
        # **kwargs: the evaluator's own columns say which further inputs it wants.
        inputs += [
            InputSpec(col, required=True, kind="any")
            for col in ctx.columns
            if col not in names and col not in bound
        ]
    return tuple(inputs), takes_any


def _output_plan(alias: str, spec: CodeParams, ctx: BuildContext, hints_of: Any) -> OutputPlan:
    keys: list[str]
    lower: set[str] = set()
    if spec.outputs is not None:
        if isinstance(spec.outputs, dict):
            keys = list(spec.outputs)
            lower = {k for k, d in spec.outputs.items() if d == "lower"}
        else:
            keys = list(spec.outputs)
        closed = True
        if not keys:
            raise ConfigError(
                f"evaluators.{alias}.outputs lists no keys", where=ctx.where("outputs")
            )
        as_mapping = isinstance(spec.outputs, dict)
        for i, key in enumerate(keys):
            loc: tuple[str | int, ...] = ("outputs", key) if as_mapping else ("outputs", i)
            if not key or key in RESERVED_KEYS:
                raise ConfigError(
                    f"evaluators.{alias}.outputs: {key!r} is not a valid output key"
                    + (" (evalcli writes it itself)" if key else ""),
                    where=ctx.where(*loc, key=as_mapping),
                )
            if key in keys[:i]:
                raise ConfigError(
                    f"evaluators.{alias}.outputs lists {key!r} twice", where=ctx.where(*loc)
                )
    else:
        annotated = _annotated_return(hints_of)
        closed = isinstance(annotated, tuple)
        if isinstance(annotated, tuple):
            keys = list(annotated)
        elif annotated == "dict":
            keys = []  # a dict of keys known only at run time
        else:
            keys = [alias]
    threshold = spec.threshold
    if isinstance(threshold, dict):
        for key in threshold:
            if key in keys:
                continue
            if closed:
                raise ConfigError(
                    f"evaluators.{alias}.threshold.{key}: {key!r} is not one of its outputs "
                    f"({', '.join(keys)})",
                    where=ctx.where("threshold", key, key=True),
                    hint=did_you_mean(key, keys),
                )
            keys.append(key)
    plan = OutputPlan(tuple(keys), frozenset(lower), closed, threshold)
    for key in keys:
        if plan.is_derived(key, keys):
            raise ConfigError(
                f"evaluators.{alias}: the output {key!r} clashes with the pass/fail keys "
                "evalcli adds for a thresholded output",
                where=ctx.where("outputs" if spec.outputs is not None else "threshold"),
            )
    return plan


def _annotated_return(target: Any) -> tuple[str, ...] | Literal["dict"] | None:
    """Keys of a ``TypedDict`` return annotation, ``"dict"`` for a plain mapping, else None."""
    try:
        hints = typing.get_type_hints(target)
    except Exception:  # unresolvable annotations only cost us the inference
        return None
    ann = hints.get("return")
    if ann is None:
        return None
    if typing.is_typeddict(ann):
        return tuple(typing.get_type_hints(ann))
    origin = typing.get_origin(ann) or ann
    if isinstance(origin, type) and issubclass(origin, Mapping):
        return "dict"
    return None


def _version(name: str, loaded: LoadedConfig) -> str:
    """What identifies this code: a short hash of its file, or its package's ``__version__``."""
    module_part = name.rpartition(":")[0]
    if module_part.endswith(".py") or "/" in module_part or "\\" in module_part:
        try:
            data = loaded.resolve(Path(module_part)).read_bytes()
        except OSError:
            return ""
        return "sha256:" + hashlib.sha256(data).hexdigest()[:12]
    for candidate in (module_part, module_part.split(".", 1)[0]):
        version = getattr(sys.modules.get(candidate), "__version__", None)
        if isinstance(version, str):
            return version
    return ""
