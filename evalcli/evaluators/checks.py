"""Deterministic checks as evaluators: exact match, contains, regex, JSON, length, similarity.

No model is called; every check runs in the worker pool (``execution = "cpu"``). The checks
themselves are :mod:`evalcli.metrics.checks` and their settings, checked when the config is
validated, :mod:`evalcli.evaluators.check_settings`; this module declares the evaluators and
their outputs: ``<name>_result`` (pass/fail) and ``<name>_reason`` (what matched or did not),
plus the similarity score.

In a conversation, a check fails if any turn fails, and the row keeps that turn's reason.

The libraries the checks use (``regex``, ``jsonschema``, ``rapidfuzz``) are imported when a
check is built or run, never when evaluators are registered or listed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evalcli.errors import ConfigError, RowError
from evalcli.evaluators.base import Evaluator
from evalcli.evaluators.check_settings import (
    ContainsParams,
    ExactMatchParams,
    JsonSchemaParams,
    JsonValidParams,
    LengthParams,
    RegexParams,
    SimilarityParams,
)
from evalcli.evaluators.context import BuildContext, EvalContext
from evalcli.evaluators.declaration import (
    EvaluatorInfo,
    EvaluatorParams,
    Family,
    InputSpec,
    OutputField,
    Outputs,
    Role,
)
from evalcli.evaluators.params import check_threshold
from evalcli.evaluators.turns import WorstTurn
from evalcli.metrics import checks as m

RESPONSE = InputSpec("response")
JSON_RESPONSE = InputSpec("response", kind="any")  # a target may return parsed JSON
EXPECTED = InputSpec("ground_truth", kind="texts")  # one accepted answer or a list of them
SIMILARITY_THRESHOLD = 0.8


def check_fields(key: str, *, score: bool = False) -> tuple[OutputField, ...]:
    """``<key>_result`` and ``<key>_reason``; with ``score``, the 0-1 score and its threshold."""
    scored = (
        OutputField(
            key,
            Role.SCORE,
            higher_is_better=True,
            range=(0.0, 1.0),
            default_threshold=SIMILARITY_THRESHOLD,
        ),
    )
    threshold = (OutputField(f"{key}_threshold", Role.THRESHOLD, stem=key),)
    return (
        *(scored if score else ()),
        OutputField(f"{key}_result", Role.RESULT, stem=key, primary=True),
        *(threshold if score else ()),
        OutputField(f"{key}_reason", Role.REASON, stem=key),
    )


# -- the evaluator --------------------------------------------------------------------------


class CheckEvaluator(WorstTurn, Evaluator):
    """One configured check. ``check`` is called with the response, and with the expected
    text(s) when the evaluator takes ``ground_truth``."""

    execution = "cpu"

    def __init__(
        self,
        alias: str,
        name: str,
        inputs: tuple[InputSpec, ...],
        check: Any,
        params: dict[str, Any],
        threshold: float | None = None,
    ):
        super().__init__(alias, name, inputs, check_fields(name, score=threshold is not None))
        self.check = check
        self.params = params
        self.threshold = threshold

    def evaluate(self, inputs: dict[str, Any], ctx: EvalContext) -> Outputs:
        args = [inputs["response"]]
        if "ground_truth" in inputs:
            args.append(inputs["ground_truth"])
        try:
            result: m.CheckResult = self.check(*args)
        except m.RegexTimeoutError as exc:
            raise RowError("regex-timeout", str(exc)) from None
        except ValueError as exc:  # a value the check cannot read (not text, say)
            raise RowError("bad-input", str(exc)) from None
        key = self.name
        out: Outputs = {f"{key}_result": "pass" if result.passed else "fail"}
        if self.threshold is not None:
            out[key] = result.score
            out[f"{key}_threshold"] = self.threshold
        out[f"{key}_reason"] = result.reason
        return out

    def badness(self, outputs: Outputs) -> float:
        """A failed turn is worse than any passing one; among them, the lower score."""
        score = outputs.get(self.name)
        return (outputs.get(f"{self.name}_result") == "fail") + (
            1.0 - score if isinstance(score, float) else 0.0
        )

    def describe_params(self) -> dict[str, Any]:
        extra = {} if self.threshold is None else {"threshold": self.threshold}
        return {**extra, **self.params}

    def warm_up(self) -> None:
        """Import what the check needs now (before the runner forks its workers)."""
        if isinstance(self.check, m.SimilarityRatio):
            from rapidfuzz.distance import Levenshtein  # noqa: F401
        if isinstance(self.check, m.ExactMatch) and self.check.ignore_punctuation:
            self.check.normalize("warm up")


# -- factories and declarations -------------------------------------------------------------


def _schema_from_file(path_text: str, ctx: BuildContext) -> Any:
    """The schema in ``schema_file`` (JSON, or YAML for .yaml/.yml), relative to the config."""
    import yaml

    where = ctx.where("params", "schema_file")
    path = ctx.loaded.resolve(Path(path_text))
    key = f"evaluators.{ctx.alias}.params.schema_file"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ConfigError(f"{key}: cannot read {path} ({reason})", where=where) from None
    as_yaml = path.suffix.lower() in (".yaml", ".yml")
    try:
        return yaml.safe_load(text) if as_yaml else json.loads(text)
    except (ValueError, yaml.YAMLError) as exc:
        what = "YAML" if as_yaml else "JSON"
        raise ConfigError(f"{key}: {path} is not valid {what} ({exc})", where=where) from None


def _json_schema(alias: str, params: JsonSchemaParams, ctx: BuildContext) -> Evaluator:
    opts = params.params
    schema = opts.schema_
    if opts.schema_file is not None:
        schema = _schema_from_file(opts.schema_file, ctx)
    try:
        check = m.JsonSchema(schema, opts.check_formats)
    except ValueError as exc:
        raise ConfigError(
            f"evaluators.{alias}.params.schema_file: {opts.schema_file}: {exc}",
            where=ctx.where("params", "schema_file"),
        ) from None
    described: dict[str, Any] = {"check_formats": opts.check_formats}
    described |= {"schema_file": opts.schema_file} if opts.schema_file else {"schema": schema}
    return CheckEvaluator(alias, "json_schema", (JSON_RESPONSE,), check, described)


def _options(params: EvaluatorParams) -> dict[str, Any]:
    return params.params.model_dump(by_alias=True)


def _exact_match(alias: str, params: ExactMatchParams, ctx: BuildContext) -> Evaluator:
    check = m.ExactMatch(**params.params.model_dump())
    return CheckEvaluator(alias, "exact_match", (RESPONSE, EXPECTED), check, _options(params))


def _contains(name: str) -> Any:
    cls = m.NotContains if name == "not_contains" else m.Contains

    def build(alias: str, params: ContainsParams, ctx: BuildContext) -> Evaluator:
        o = params.params
        value = o.value if isinstance(o.value, str) else tuple(o.value)
        check = cls(value, o.mode, o.ignore_case)
        return CheckEvaluator(alias, name, (RESPONSE,), check, _options(params))

    return build


def _regex(alias: str, params: RegexParams, ctx: BuildContext) -> Evaluator:
    o = params.params
    check = m.Regex(o.pattern, tuple(o.flags), o.full_match, o.must_match, o.timeout_s)
    return CheckEvaluator(alias, "regex", (RESPONSE,), check, _options(params))


def _json_valid(alias: str, params: JsonValidParams, ctx: BuildContext) -> Evaluator:
    return CheckEvaluator(alias, "json_valid", (JSON_RESPONSE,), m.JsonValid(), {})


def _length(alias: str, params: LengthParams, ctx: BuildContext) -> Evaluator:
    o = params.params
    check = m.Length(o.unit, o.min, o.max)
    return CheckEvaluator(alias, "length", (RESPONSE,), check, _options(params))


def _similarity(alias: str, params: SimilarityParams, ctx: BuildContext) -> Evaluator:
    threshold = SIMILARITY_THRESHOLD
    if params.threshold is not None:
        threshold = check_threshold(params.threshold, 0.0, 1.0, ctx)
    check = m.SimilarityRatio(threshold, params.params.ignore_case)
    inputs = (RESPONSE, EXPECTED)
    return CheckEvaluator(
        alias, "similarity_ratio", inputs, check, _options(params), threshold=threshold
    )


def _info(
    name: str, what: str, inputs: tuple[InputSpec, ...], factory: Any, model: Any
) -> EvaluatorInfo:
    score = name == "similarity_ratio"
    return EvaluatorInfo(
        name, Family.CHECK, what, inputs, check_fields(name, score=score), factory, model
    )


CHECK_EVALUATORS: tuple[EvaluatorInfo, ...] = (
    _info(
        "exact_match",
        "The response equals the ground truth (or one of a list), optionally normalized",
        (RESPONSE, EXPECTED),
        _exact_match,
        ExactMatchParams,
    ),
    _info(
        "contains",
        "The response contains params.value (any or all of a list)",
        (RESPONSE,),
        _contains("contains"),
        ContainsParams,
    ),
    _info(
        "not_contains",
        "The response contains none of params.value (or not all, with mode: all)",
        (RESPONSE,),
        _contains("not_contains"),
        ContainsParams,
    ),
    _info(
        "regex",
        "The response matches params.pattern (search or full match), with a time limit",
        (RESPONSE,),
        _regex,
        RegexParams,
    ),
    _info(
        "json_valid", "The response is valid JSON", (JSON_RESPONSE,), _json_valid, JsonValidParams
    ),
    _info(
        "json_schema",
        "The response is JSON valid against a JSON Schema (Draft 2020-12, no remote $ref)",
        (JSON_RESPONSE,),
        _json_schema,
        JsonSchemaParams,
    ),
    _info(
        "length",
        "The response's length in chars or words is within params.min / params.max",
        (RESPONSE,),
        _length,
        LengthParams,
    ),
    _info(
        "similarity_ratio",
        "Normalized Levenshtein similarity to the ground truth (rapidfuzz), 0-1",
        (RESPONSE, EXPECTED),
        _similarity,
        SimilarityParams,
    ),
)
