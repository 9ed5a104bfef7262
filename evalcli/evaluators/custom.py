"""Code evaluators (``use: code``): a Python callable named in the config scores each row.

NOTE: this runs the user's own code inside the evalcli process.

``function: path/to/file.py:Name`` (relative to the config) or ``package.module:Name``
(imported from the Python path) names either

* a **function**, called once per row with the row's inputs as keyword arguments; ``params``
  are bound to its keyword parameters once, when the run is built; or
* a **class**, instantiated once when the run is built with ``params`` as keyword arguments;
  the instance is called once per row with the inputs as keyword arguments.

**Inputs** come from the signature: every parameter that is not bound by ``params`` is an
input, required unless it has a default. Inputs are mapped like any evaluator's (the
evaluator's ``columns``, the run-level ``columns``, else the column of the same name). A
``**kwargs`` parameter receives, in addition, the inputs named under the evaluator's own
``columns`` — evalcli cannot guess which other columns it wants. Positional-only parameters
without a default cannot be filled by keyword and are refused.

**Outputs.** A number or a bool is stored under the alias (``outputs.<alias>.<alias>``); a
dict under its own keys (``outputs.<alias>.<key>``). Values of a dict may be numbers, bools,
text, null, or JSON lists/objects. Numbers and bools are averaged into ``<alias>.<key>``
metrics (a bool counts as 1 or 0, so its mean is the share of true). When a ``threshold``
applies to a key (a single number applies to every numeric key, a mapping to the keys it
names), numeric values also get ``<key>_result`` (``pass``/``fail``) and ``<key>_threshold``.

Which keys exist is declared, in this order of precedence, by

1. ``outputs:`` in the spec — a list of keys, or a mapping ``key: higher|lower`` giving the
   direction (default higher). The evaluator is then *closed*: returning another key is a
   row error, its metrics exist from the start (``evalcli validate`` checks gates on them);
2. a ``TypedDict`` return annotation — its keys, closed as above;
3. otherwise the evaluator is *open*: the key ``<alias>`` (for a scalar; none for a
   ``dict``/``Mapping`` return annotation) and the keys of a ``threshold`` mapping get CSV
   columns, and a returned dict may hold any keys. All its metrics are learned from the
   values, as each key is first seen, so a run never reports an empty metric for a key
   that never came. Keys without a column share one JSON column ``outputs.<alias>`` in CSV
   (JSON rows keep them flat). A gate on an open evaluator's metric is checked when the run
   ends: exit 3 if the key never appeared, listing the metrics that did.

Keys named in a ``threshold`` mapping must be declared outputs of a closed evaluator.

**Where it runs.** In the runner's thread pool (``execution = "io"``), up to
``run.concurrency`` rows at once, sharing one function or one instance: the code must be
thread-safe. Threads suit code that waits (services, files, models behind an API) and need no
pickling or forking of user objects; pure-Python CPU-heavy scoring is limited by the GIL —
write a plugin evaluator with ``execution = "cpu"`` for that. Code evaluators never run in
the forked process pool. Each call runs on a daemon thread
(:class:`evalcli.usercode.TimedCaller`): the runner's thread waits at most ``timeout_s``
(default 60) from the moment the call starts, then gives up on it.

**Failures.** An exception raised by the code is a row error of kind ``evaluator-exception``
with its message; a value that is not a valid result (None, text, a list, NaN or infinity, a
dict with non-text keys or non-JSON values, an undeclared key) is a row error of kind
``evaluator-bad-output``. Raising :class:`evalcli.RowError` sets your own kind. A call past
``timeout_s`` is a row error of kind ``code-timeout``; its thread is abandoned (Python cannot
stop it) and the run goes on.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field

from evalcli.config import USER_CODE_TIMEOUT_S, UserCodeTimeout
from evalcli.errors import RemoteError, RowError
from evalcli.evaluators.base import (
    Evaluator,
    EvaluatorInfo,
    EvaluatorParams,
    Family,
    OutputField,
    Outputs,
    Role,
)
from evalcli.evaluators.context import BuildContext, EvalContext
from evalcli.evaluators.custom_load import (
    RESERVED_KEYS,
    RESULT_SUFFIX,
    THRESHOLD_SUFFIX,
    CodeParts,
    load_code,
)
from evalcli.evaluators.declaration import Options
from evalcli.evaluators.params import Threshold
from evalcli.usercode import CallTimeoutError, TimedCaller

BAD_OUTPUT = "evaluator-bad-output"
EXCEPTION = "evaluator-exception"
TIMEOUT = "code-timeout"


class CodeOptions(Options):
    """A code evaluator's ``params``: keyword arguments of the user's callable, any names."""

    model_config = ConfigDict(extra="allow", frozen=True)


_NOT_CODE = "does not apply to code evaluators"


class CodeParams(EvaluatorParams):
    """Settings of ``use: code`` (see the module docstring)."""

    refused: ClassVar[dict[str, str]] = {"prompt": _NOT_CODE, "judge": _NOT_CODE}

    function: str | None = None
    #: The keys the callable returns, optionally with their direction.
    outputs: list[str] | dict[str, Literal["higher", "lower"]] | None = None
    #: Seconds one call may take (None: USER_CODE_TIMEOUT_S).
    timeout_s: UserCodeTimeout | None = None
    threshold: Threshold | dict[str, Threshold] | None = None
    params: CodeOptions = Field(default_factory=CodeOptions)

    @property
    def kwargs(self) -> dict[str, Any]:
        """``params`` as the keyword arguments the callable receives."""
        return dict(self.params.model_extra or {})


class CodeEvaluator(Evaluator):
    """Calls the user's callable once per row and checks what it returns."""

    execution = "io"

    def __init__(
        self,
        alias: str,
        parts: CodeParts,
        function: str,
        timeout_s: float = USER_CODE_TIMEOUT_S,
    ):
        plan = parts.outputs
        fields = tuple(f for key in plan.keys for f in plan.fields(key, alias))
        super().__init__(alias, "code", parts.inputs, fields)
        self._call = parts.call
        self._plan = plan
        self._declared = frozenset(plan.keys)
        self._function = function
        self._params = parts.params
        self._caller = TimedCaller(f"code-{alias}", timeout_s)
        #: Read by the aggregator, the CSV writer and the gate check: keys may appear at run time.
        self.open_outputs = not plan.closed

    @property
    def remote_calls_per_row(self) -> int:
        """Whatever the user's code does, evalcli makes no remote call for it."""
        return 0

    # -- per row -------------------------------------------------------------------------

    def evaluate(self, inputs: dict[str, Any], ctx: EvalContext) -> Outputs:
        try:
            value = self._caller.call(self._call, inputs)
        except (RowError, RemoteError):
            raise
        except CallTimeoutError as exc:
            raise RowError(TIMEOUT, f"{self._function} {exc}") from None
        except BaseException as exc:  # user code: isolate any failure to this row
            # Even SystemExit or KeyboardInterrupt: they were raised on a worker thread, so
            # neither is the user stopping evalcli (signals reach the main thread).
            text = str(exc)
            raise RowError(
                EXCEPTION, f"{type(exc).__name__}: {text}" if text else type(exc).__name__
            ) from None
        return self._with_results(self._values(value))

    def _values(self, value: Any) -> dict[str, Any]:
        scalar = _scalar(value, "returned")
        if scalar is not None:
            if self._plan.closed and self.alias not in self._declared:
                raise RowError(
                    BAD_OUTPUT,
                    f"returned a single {type(value).__name__}, but the declared outputs are "
                    f"{', '.join(self._plan.keys)}: return a dict with those keys",
                )
            return {self.alias: scalar}
        if not isinstance(value, Mapping):
            what = "None" if value is None else type(value).__name__
            raise RowError(
                BAD_OUTPUT, f"returned {what}; a code evaluator returns a number, a bool or a dict"
            )
        if not value:
            raise RowError(BAD_OUTPUT, "returned an empty dict")
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str) or not key:
                raise RowError(BAD_OUTPUT, f"returned a dict with the key {key!r}; keys are text")
            if key in RESERVED_KEYS or self._plan.is_derived(key, value):
                raise RowError(BAD_OUTPUT, f"returned the key {key!r}, which evalcli writes itself")
            if self._plan.closed and key not in self._declared:
                raise RowError(
                    BAD_OUTPUT,
                    f"returned the undeclared key {key!r} (declared outputs: "
                    f"{', '.join(self._plan.keys)})",
                )
            out[key] = _dict_value(key, item)
        return out

    def _with_results(self, values: dict[str, Any]) -> Outputs:
        out: Outputs = {}
        for key, value in values.items():
            out[key] = value
            limit = self._plan.threshold_for(key)
            if limit is None or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            higher = key not in self._plan.lower_is_better
            passed = value >= limit if higher else value <= limit
            out[f"{key}{RESULT_SUFFIX}"] = "pass" if passed else "fail"
            out[f"{key}{THRESHOLD_SUFFIX}"] = limit
        return out

    # -- hooks read by the aggregator ------------------------------------------------------

    def runtime_fields(self, key: str, value: Any) -> tuple[OutputField, ...]:
        """Fields of a key, from its first value (open evaluators learn all their metrics).

        Numbers and bools become scores (plus pass/fail when a threshold applies); other
        values (text, lists, objects) are kept in the row but not aggregated.
        """
        if not self.open_outputs or self._plan.is_derived(key):
            return ()
        if value is None or not isinstance(value, int | float):
            return ()
        return self._plan.fields(key, self.alias)

    def describe_params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"function": self._function}
        if self._params:
            out["params"] = self._params
        if self._plan.threshold is not None:
            out["threshold"] = self._plan.threshold
        out["outputs"] = list(self._plan.keys)
        if self._plan.lower_is_better:
            out["lower_is_better"] = sorted(self._plan.lower_is_better)
        return out


def _scalar(value: Any, what: str) -> int | float | bool | None:
    """A number or bool result, normalised to a Python type; None if ``value`` is neither.

    numpy scalars are accepted (users return them all the time): they register with the
    :mod:`numbers` ABCs, and ``numpy.bool_`` is recognised by name to avoid importing numpy.

    Raises:
        RowError: NaN or infinity, which no metric can use.
    """
    if isinstance(value, bool):
        return value
    if type(value).__name__ == "bool_" and hasattr(value, "item"):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise RowError(BAD_OUTPUT, f"{what} {number}; results must be finite numbers")
        return number
    return None


def _dict_value(key: str, value: Any) -> Any:
    scalar = _scalar(value, f"returned {key!r} =")
    if scalar is not None or value is None or isinstance(value, str):
        return value if scalar is None else scalar
    try:
        # Strict JSON: results.json must stay valid, so NaN and unknown types are refused here.
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise RowError(
            BAD_OUTPUT, f"the value of {key!r} is not JSON ({type(value).__name__}: {exc})"
        ) from None
    return value


def build_code(alias: str, params: CodeParams, ctx: BuildContext) -> CodeEvaluator:
    """Factory of ``use: code``."""
    timeout_s = USER_CODE_TIMEOUT_S if params.timeout_s is None else params.timeout_s
    return CodeEvaluator(alias, load_code(alias, params, ctx), params.function or "", timeout_s)


def describe_code(alias: str, params: CodeParams, ctx: BuildContext) -> dict[str, Any]:
    """What ``list-evaluators --config`` shows for a code evaluator."""
    parts = load_code(alias, params, ctx)
    ev = CodeEvaluator(alias, parts, params.function or "")
    return {
        "inputs": [i.name + ("" if i.required else "?") for i in ev.inputs],
        "outputs": [f.key for f in ev.outputs],
        "open_outputs": ev.open_outputs,
        "version": parts.version,
        "function": params.function,
        "default_threshold": params.threshold,
        "what": params.function,
    }


def placeholder_fields(*suffixes: str, roles: tuple[Role, ...]) -> tuple[OutputField, ...]:
    """Declared outputs of an evaluator whose keys are named after its alias."""
    return tuple(
        OutputField(f"<alias>{suffix}", role, stem="<alias>")
        for suffix, role in zip(suffixes, roles, strict=True)
    )


CODE_EVALUATOR = EvaluatorInfo(
    "code",
    Family.CUSTOM,
    "Your Python function or class (function: file.py:Name or module:Name); inputs from "
    "its signature; returns a number, a bool or a dict",
    (),
    placeholder_fields(
        "", RESULT_SUFFIX, THRESHOLD_SUFFIX, roles=(Role.SCORE, Role.RESULT, Role.THRESHOLD)
    ),
    build_code,
    CodeParams,
)
