"""Prompt evaluators (``use: prompt``): the user's own judge rubric, scored by the run's judge.

``prompt: path/to/file`` (relative to the config) is a prompt file in evalcli's format (with an
``output`` block) or in the Prompty format — inputs declared as ``{type: ...}`` mappings or
given as sample values; see :mod:`evalcli.prompts`. The file is loaded and linted when the run
is built: undeclared or unused variables and bad front matter are exit-2 errors naming the
file and line.

**Output spec.** The file's ``output`` block, overridden key by key by the evaluator's
``params``: ``kind`` (``score`` or ``label``), ``min``, ``max``, ``direction`` (``higher`` or
``lower`` is better; for labels, ``lower`` means true = a problem found) and ``details``
(labels). A Prompty file has no ``output`` block, so the config gives it, e.g.
``params: {min: 1, max: 5}``. The pass threshold is the evaluator's ``threshold``, else the
file's, else the middle of the scale (3 on 1-5). The judge is the run's, or the evaluator's own
``judge:``.

**Open scores.** A Prompty file whose ``outputs`` declare ``score`` as a number (``type: int``,
as in the Azure AI Evaluation docs) runs without ``min``/``max``: the judge's number is taken
as it is, not range-checked, and a row passes when it is at or above (``direction: lower``: at
or below) the evaluator's ``threshold``; without a threshold rows get a score and no pass/fail.
``validate`` and ``run`` warn once per evaluator that the range is unchecked.

**Row keys** use the alias ``K``, like the built-in judge evaluators: scores give ``K``,
``K_result``, ``K_threshold``, ``K_reason`` (open scores without a threshold: ``K`` and
``K_reason``); labels give ``K_label``, ``K_reason`` and, when details are declared,
``K_details``. All add ``K_prompt_tokens``, ``K_completion_tokens`` and ``K_prompt_sha256``.
``K_reason`` is the answer's ``reason``, else its ``explanation``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from evalcli.errors import ConfigError
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
from evalcli.evaluators.custom import placeholder_fields
from evalcli.evaluators.declaration import Options
from evalcli.evaluators.judged import JudgedEvaluator, judge_fields
from evalcli.evaluators.params import JudgedParams, Threshold, check_threshold
from evalcli.evaluators.quality import JudgeScoreEvaluator, score_fields
from evalcli.judge.parse import ParseFailure, parse_label, parse_number
from evalcli.prompts import DeclaredScore, OutputSpec, OutputSpecError, PromptFile


class PromptOptions(Options):
    """``params`` of a prompt evaluator: the keys of an ``output`` block, overriding the
    file's key by key. Their values are checked with the file's (:class:`OutputSpec`)."""

    refused: ClassVar[dict[str, str]] = {
        "threshold": "does not apply: put the pass threshold beside use (threshold: 3)"
    }

    kind: Any = None
    min: Any = None
    max: Any = None
    direction: Any = None
    details: Any = None


class PromptParams(JudgedParams):
    """Settings of ``use: prompt``: the rubric (``prompt``), threshold, judge, output spec."""

    threshold: Threshold | None = None
    params: PromptOptions = Field(default_factory=PromptOptions)

    @property
    def spec(self) -> dict[str, Any]:
        """The ``params`` keys the config gives (the output spec's overrides)."""
        return self.params.model_dump(exclude_unset=True)


@dataclass(frozen=True)
class OpenScore:
    """A numeric ``score`` declared by a Prompty file, with no range in the file or config.

    Attributes:
        declared: The file's declaration (type and line).
        direction: ``higher`` or ``lower`` is better (``params.direction``).
    """

    declared: DeclaredScore
    direction: Literal["higher", "lower"] = "higher"

    def as_mapping(self) -> dict[str, Any]:
        """The spec as recorded with the run."""
        return {
            "kind": "score",
            "type": self.declared.type,
            "range": "open",
            "direction": self.direction,
        }


@dataclass(frozen=True)
class PromptParts:
    """A loaded rubric and what the evaluator makes of it (shared by build and listing)."""

    prompt: PromptFile
    output: OutputSpec | OpenScore
    threshold: float | None
    inputs: tuple[InputSpec, ...]

    def fields(self, alias: str) -> tuple[OutputField, ...]:
        """Declared outputs."""
        if isinstance(self.output, OpenScore):
            higher = self.output.direction == "higher"
            whole = self.output.declared.type == "integer"
            scored = score_fields(alias, higher, None, self.threshold, integer=whole)
            if self.threshold is None:  # nothing to pass or fail against
                return tuple(f for f in scored if f.role not in (Role.RESULT, Role.THRESHOLD))
            return scored
        if self.output.kind == "score":
            scale = (self.output.min, self.output.max)
            higher = self.output.direction == "higher"
            if scale[0] is None or scale[1] is None:
                return score_fields(alias, higher, None, self.threshold)
            return score_fields(alias, higher, (scale[0], scale[1]), self.threshold)
        metric: Literal["passing_rate", "defect_rate"] = (
            "passing_rate" if self.output.direction == "higher" else "defect_rate"
        )
        fields: tuple[OutputField, ...] = (
            OutputField(f"{alias}_label", Role.LABEL, stem=alias, label_metric=metric),
            OutputField(f"{alias}_reason", Role.REASON, stem=alias),
        )
        if self.output.details:
            fields += (OutputField(f"{alias}_details", Role.DETAILS, stem=alias),)
        return (*fields, *judge_fields(alias))

    @property
    def version(self) -> str:
        """The file's ``version``, else a short hash of its bytes."""
        return self.prompt.version or "sha256:" + self.prompt.sha256[:12]


def load_prompt_parts(alias: str, spec: PromptParams, ctx: BuildContext) -> PromptParts:
    """Load and lint the rubric and settle its output spec and threshold.

    A Prompty file that declares a numeric ``score`` and gets no range from the config
    gives an :class:`OpenScore`, and a warning through ``ctx.warn``.

    Raises:
        ConfigError: (exit 2) no ``prompt``, an unknown ``params`` key, no output spec in the
            file or the config, an invalid spec, a threshold outside the scale or on a label.
        PromptError: (exit 2) the file is missing, has bad front matter or fails the lint.
    """
    if not spec.prompt:
        raise ConfigError(
            f"evaluators.{alias} (use: prompt) needs 'prompt' (a prompt file, evalcli or "
            "Prompty format)",
            where=ctx.where(key=True),
        )
    prompt = ctx.rubric(spec.prompt)
    path = prompt.path
    declared = prompt.declared_score
    output: OutputSpec | OpenScore
    if prompt.output is None and declared is not None and not _gives_range(spec.spec):
        output, threshold = _open_score(alias, spec, ctx, prompt, declared)
    else:
        output, threshold = _output_spec(alias, spec, ctx, prompt, path)
    inputs = tuple(
        InputSpec(name, required=decl.required, kind="any") for name, decl in prompt.inputs.items()
    )
    if not inputs:
        raise ConfigError(
            f"the prompt file {path} declares no inputs, so it would judge the same text for "
            "every row",
            where=ctx.where("prompt"),
            hint="declare the row values it reads under 'inputs' and use them as {{ name }}",
        )
    return PromptParts(prompt, output, threshold, inputs)


def _gives_range(params: dict[str, Any]) -> bool:
    """Whether ``params`` ask for more than an open score (a range, or a label)."""
    return "min" in params or "max" in params or params.get("kind", "score") != "score"


def _open_score(
    alias: str,
    spec: PromptParams,
    ctx: BuildContext,
    prompt: PromptFile,
    declared: DeclaredScore,
) -> tuple[OpenScore, float | None]:
    """The open score of a Prompty file, its threshold (if any), and the warning about it."""
    direction = spec.spec.get("direction", "higher")
    if direction not in ("higher", "lower"):
        raise ConfigError(
            f"evaluators.{alias}: output direction must be 'higher' or 'lower', not {direction!r}",
            where=ctx.where("params", "direction"),
        )
    if "details" in spec.spec:
        raise ConfigError(
            f"evaluators.{alias}: 'details' applies to label outputs only",
            where=ctx.where("params", "details"),
        )
    threshold: float | None = None
    if spec.threshold is not None:
        # There is no scale to check it against; it only has to be a usable number.
        if not math.isfinite(spec.threshold):
            raise ConfigError(
                f"evaluators.{alias}.threshold must be a single finite number",
                where=ctx.where("threshold"),
            )
        threshold = float(spec.threshold)
    if threshold is None:
        verdict = "no pass/fail without a threshold"
    else:
        verdict = f"a row passes at {'>=' if direction == 'higher' else '<='} {threshold:g}"
    ctx.warn(
        f"{prompt.path}:{declared.line}: evaluators.{alias}: 'score' is declared "
        f"{declared.declared!r} without a range, so judge scores are not range-checked "
        f"({verdict}); declare the range with params: {{min: 1, max: 5}} (your rubric's scale)"
    )
    return OpenScore(declared, direction), threshold


def _output_spec(
    alias: str, spec: PromptParams, ctx: BuildContext, prompt: PromptFile, path: Path
) -> tuple[OutputSpec, float | None]:
    """The file's output spec merged with ``params``, and the threshold on its scale."""
    given = spec.spec
    if prompt.output is None and not given:
        raise ConfigError(
            f"the prompt file {path} declares no output spec, and evaluators.{alias} gives none",
            where=ctx.where("prompt"),
            hint="add params: {min: 1, max: 5} for a 1-5 score (direction: lower when lower "
            "is better), or params: {kind: label, direction: lower} for a yes/no verdict "
            "where true means a problem was found",
        )
    try:
        output = OutputSpec.resolve(prompt.output, given or None)
    except OutputSpecError as exc:
        if exc.key is not None and exc.key in given:
            where = ctx.where("params", exc.key)
        else:
            where = ctx.where("params") if given else ctx.where("prompt")
        raise ConfigError(f"evaluators.{alias}: {exc.message}", where=where) from None
    threshold: float | None = None
    if output.kind == "label":
        if spec.threshold is not None:
            raise ConfigError(
                f"evaluators.{alias}.threshold: a label output is true or false and has no "
                "threshold",
                where=ctx.where("threshold", key=True),
            )
    else:
        assert output.min is not None and output.max is not None  # checked by the spec
        raw = spec.threshold if spec.threshold is not None else output.threshold
        if raw is None:
            raw = (output.min + output.max) / 2  # 3 on the usual 1-5 scale
        threshold = check_threshold(raw, output.min, output.max, ctx)
    return output, threshold


class PromptScoreEvaluator(JudgeScoreEvaluator):
    """A score on the rubric's own scale (records the output spec with the run)."""

    def __init__(self, *args: Any, output: OutputSpec, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.output_spec = output

    def describe_params(self) -> dict[str, Any]:
        return {"output": self.output_spec.as_mapping(), **super().describe_params()}


class PromptLabelEvaluator(JudgedEvaluator):
    """A yes/no verdict from the user's rubric."""

    def __init__(self, *args: Any, output: OutputSpec, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.output_spec = output

    def evaluate(self, inputs: dict[str, Any], ctx: EvalContext) -> Outputs:
        reply = self.ask(inputs, ctx)
        parsed = parse_label(reply.text, required_details=self.output_spec.details)
        if isinstance(parsed, ParseFailure):
            raise self.unscored(parsed.kind, parsed.message, reply)
        k = self.key
        out: Outputs = {f"{k}_label": parsed.label, f"{k}_reason": parsed.reason}
        if self.output_spec.details:
            out[f"{k}_details"] = {d: parsed.details[d] for d in self.output_spec.details}
        return {**out, **self.bookkeeping(reply)}

    def describe_params(self) -> dict[str, Any]:
        return {"output": self.output_spec.as_mapping(), **super().describe_params()}


class PromptOpenScoreEvaluator(JudgedEvaluator):
    """A number from the user's rubric with no declared range (see :class:`OpenScore`)."""

    def __init__(self, *args: Any, output: OpenScore, threshold: float | None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.output_spec = output
        self.threshold = threshold

    def evaluate(self, inputs: dict[str, Any], ctx: EvalContext) -> Outputs:
        reply = self.ask(inputs, ctx)
        parsed = parse_number(reply.text, integer=self.output_spec.declared.type == "integer")
        if isinstance(parsed, ParseFailure):
            raise self.unscored(parsed.kind, parsed.message, reply)
        k = self.key
        out: Outputs = {k: parsed.score}
        if self.threshold is not None:
            higher = self.output_spec.direction == "higher"
            passed = parsed.score >= self.threshold if higher else parsed.score <= self.threshold
            out[f"{k}_result"] = "pass" if passed else "fail"
            out[f"{k}_threshold"] = self.threshold
        out[f"{k}_reason"] = parsed.reason
        return {**out, **self.bookkeeping(reply)}

    def describe_params(self) -> dict[str, Any]:
        return {
            "output": self.output_spec.as_mapping(),
            "threshold": self.threshold,
            **super().describe_params(),
        }


def build_prompt(alias: str, params: PromptParams, ctx: BuildContext) -> Evaluator:
    """Factory of ``use: prompt``."""
    parts = load_prompt_parts(alias, params, ctx)
    judge = ctx.judge(params.judge)
    out = parts.output
    if isinstance(out, OpenScore):
        return PromptOpenScoreEvaluator(
            alias,
            "prompt",
            alias,
            parts.inputs,
            parts.fields(alias),
            parts.prompt,
            judge,
            output=out,
            threshold=parts.threshold,
        )
    if out.kind == "label":
        return PromptLabelEvaluator(
            alias,
            "prompt",
            alias,
            parts.inputs,
            parts.fields(alias),
            parts.prompt,
            judge,
            output=out,
        )
    assert parts.threshold is not None and out.min is not None and out.max is not None
    return PromptScoreEvaluator(
        alias,
        "prompt",
        alias,
        parts.inputs,
        parts.fields(alias),
        parts.prompt,
        judge,
        threshold=parts.threshold,
        lo=out.min,
        hi=out.max,
        higher=out.direction == "higher",
        output=out,
    )


def describe_prompt(alias: str, params: PromptParams, ctx: BuildContext) -> dict[str, Any]:
    """What ``list-evaluators --config`` shows for a prompt evaluator (no judge needed)."""
    parts = load_prompt_parts(alias, params, ctx)
    return {
        "inputs": [i.name + ("" if i.required else "?") for i in parts.inputs],
        "outputs": [f.key for f in parts.fields(alias)],
        "open_outputs": False,
        "version": parts.version,
        "prompt": params.prompt,
        "output_spec": parts.output.as_mapping(),
        "default_threshold": parts.threshold,
        "what": params.prompt,
    }


PROMPT_EVALUATOR = EvaluatorInfo(
    "prompt",
    Family.CUSTOM,
    "Your judge rubric (prompt: file, evalcli or Prompty format); inputs from the file; "
    "output spec from the file or params",
    (),
    placeholder_fields(
        "",
        "_result",
        "_threshold",
        "_reason",
        roles=(Role.SCORE, Role.RESULT, Role.THRESHOLD, Role.REASON),
    ),
    build_prompt,
    PromptParams,
)
