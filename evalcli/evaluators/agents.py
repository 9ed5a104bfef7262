"""Agent evaluators: a judge grades an agent's run 1-5 (``intent_resolution``,
``task_adherence``, ``tool_call_accuracy``), as the reference SDK's evaluators of those names do.

Inputs keep the reference's shapes: ``query`` and ``response`` are texts or message lists with
tool calls and tool results (see :mod:`evalcli.agents.shapes`), ``tool_definitions`` are
function schemas, ``tool_calls`` (``tool_call_accuracy`` only) the calls to grade when they
are not read from the response. evalcli reads them, refuses a malformed run with a row error
naming the place (a tool result answering no call, arguments that are not a JSON object, a
call to a tool the definitions lack), and renders them as text for its own rubrics
(``prompts/<name>.prompty``).

These evaluators take whole runs, so a row's ``conversation`` is not split into turns for them
(tool messages would be lost): give the history as ``query`` and the agent's messages as
``response``.

``tool_call_accuracy`` also checks every call without the judge: calls to tools no definition
names (``tool_call_accuracy_undefined_tools``) and arguments that violate the tool's
``parameters`` schema (``tool_call_accuracy_schema_violations``, JSON Schema Draft 2020-12,
never fetching a ``$ref``), with their own pass/fail (``tool_call_accuracy_schema_result``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evalcli.agents import (
    Run,
    ShapeError,
    ToolCall,
    ToolDefinition,
    check_calls,
    link_results,
    parse_run,
    parse_tool_calls,
    parse_tool_definitions,
    render_calls,
    render_definitions,
    render_run,
)
from evalcli.errors import RowError
from evalcli.evaluators.base import EvaluatorInfo, Family, InputSpec, OutputField, Outputs, Role
from evalcli.evaluators.context import BuildContext, EvalContext
from evalcli.evaluators.judged import check_rubric
from evalcli.evaluators.params import check_threshold
from evalcli.evaluators.quality import (
    DEFAULT_THRESHOLD,
    JudgeScoreEvaluator,
    QualityParams,
    score_fields,
)

TCA = "tool_call_accuracy"
#: Keys of tool_call_accuracy's deterministic checks (no judge).
SCHEMA_FIELDS = (
    OutputField(f"{TCA}_undefined_tools", Role.DETAILS, stem=f"{TCA}_schema"),
    OutputField(f"{TCA}_schema_violations", Role.DETAILS, stem=f"{TCA}_schema"),
    OutputField(f"{TCA}_schema_result", Role.RESULT, stem=f"{TCA}_schema"),
    OutputField(f"{TCA}_schema_reason", Role.REASON, stem=f"{TCA}_schema"),
)


@dataclass(frozen=True)
class AgentMetric:
    """A built-in agent metric: name (= result key and rubric file), inputs, description.

    Attributes:
        rubric_needs: The variables a rubric must declare (it may leave out
            ``tool_definitions`` where that input is optional).
    """

    name: str
    inputs: tuple[InputSpec, ...]
    rubric_needs: tuple[str, ...]
    description: str


_TRANSCRIPT_INPUTS = (
    InputSpec("query", kind="any"),
    InputSpec("response", kind="any"),
    InputSpec("tool_definitions", required=False, kind="any"),
)
INTENT_RESOLUTION = AgentMetric(
    "intent_resolution",
    _TRANSCRIPT_INPUTS,
    ("query", "response"),
    "Did the agent understand what the user wanted and resolve it?",
)
TASK_ADHERENCE = AgentMetric(
    "task_adherence",
    _TRANSCRIPT_INPUTS,
    ("query", "response"),
    "Did the agent do the task it was given, within its instructions and tools?",
)
TOOL_CALL_ACCURACY = AgentMetric(
    TCA,
    (
        InputSpec("query", kind="any"),
        InputSpec("tool_definitions", kind="any"),
        InputSpec("response", required=False, kind="any"),
        InputSpec("tool_calls", required=False, kind="any"),
    ),
    ("query", "tool_calls", "tool_definitions"),
    "Were the right tools called, with the right arguments? Plus schema checks",
)


def _given(inputs: dict[str, Any], name: str) -> Any:
    """An optional input's value, ``None`` when absent or null."""
    return inputs.get(name)


def _names(*runs: Run) -> dict[str, str]:
    return {c.id: c.name for r in runs for c in r.tool_calls if c.id}


class AgentEvaluator(JudgeScoreEvaluator):
    """A judged 1-5 score of an agent's run: the row's inputs are read and rendered into the
    rubric's variables first (:meth:`variables`), then scored like any judged score."""

    def variables(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """The rubric's variables for a row (rendered texts).

        Raises:
            ShapeError: an input is malformed.
        """
        raise NotImplementedError

    def messages_for(
        self, inputs: dict[str, Any], extra_user_parts: list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """The rubric rendered with the row's run (a ``bad-input`` row error if malformed).

        ``run --estimate`` calls it too, so a malformed row is counted as no call.
        """
        try:
            variables = self.variables(inputs)
        except ShapeError as exc:
            raise RowError("bad-input", str(exc)) from None
        return super().messages_for(variables, extra_user_parts)


class TranscriptEvaluator(AgentEvaluator):
    """``intent_resolution`` and ``task_adherence``: the judge reads the whole run."""

    def variables(self, inputs: dict[str, Any]) -> dict[str, Any]:
        query = parse_run(inputs["query"], "query")
        response = parse_run(inputs["response"], "response")
        link_results(query, response)
        definitions: tuple[ToolDefinition, ...] | None = None
        if _given(inputs, "tool_definitions") is not None:
            definitions = parse_tool_definitions(inputs["tool_definitions"])
            defined = {d.name for d in definitions}
            for call in (*query.tool_calls, *response.tool_calls):
                if call.name not in defined:
                    raise ShapeError(
                        f"{call.where}: calls the tool {call.name!r}, which tool_definitions "
                        "does not define"
                    )
        names = _names(query, response)
        return {
            "query": render_run(query, names),
            "response": render_run(response, names),
            "tool_definitions": render_definitions(definitions) if definitions else None,
        }


@dataclass(frozen=True)
class _GradedCalls:
    query: Run
    calls: tuple[ToolCall, ...]
    definitions: tuple[ToolDefinition, ...]
    rendered_calls: str


class ToolCallAccuracyEvaluator(AgentEvaluator):
    """``tool_call_accuracy``: the judge grades the calls; the schema checks need no judge."""

    def graded_calls(self, inputs: dict[str, Any]) -> _GradedCalls:
        """The calls to grade: the ``tool_calls`` input, else the response's calls (maybe none).

        Raises:
            ShapeError: an input is malformed.
        """
        query = parse_run(inputs["query"], "query")
        definitions = parse_tool_definitions(inputs["tool_definitions"])
        raw_response = _given(inputs, "response")
        response = Run(None) if raw_response is None else parse_run(raw_response, "response")
        given: tuple[ToolCall, ...] = ()
        if _given(inputs, "tool_calls") is not None:
            given = parse_tool_calls(inputs["tool_calls"])
            ids = [c.id for c in given if c.id]
            duplicate = next((i for n, i in enumerate(ids) if i in ids[:n]), None)
            if duplicate is not None:
                raise ShapeError(f"tool_calls: the tool call id {duplicate!r} is used twice")
        # A response may hold the results of given calls that its own messages do not show.
        results = link_results(query, response, given=given)
        calls = given if _given(inputs, "tool_calls") is not None else response.tool_calls
        return _GradedCalls(query, calls, definitions, render_calls(calls, results))

    def variables(self, inputs: dict[str, Any]) -> dict[str, Any]:
        graded = self.graded_calls(inputs)
        if not graded.calls:  # evaluate() answers "not applicable" without asking the judge
            raise ShapeError("no tool call to grade")
        return {
            "query": render_run(graded.query, _names(graded.query)),
            "tool_calls": graded.rendered_calls,
            "tool_definitions": render_definitions(graded.definitions),
        }

    def evaluate(self, inputs: dict[str, Any], ctx: EvalContext) -> Outputs:
        try:
            graded = self.graded_calls(inputs)
            findings = check_calls(graded.calls, graded.definitions)
        except ShapeError as exc:
            raise RowError("bad-input", str(exc)) from None
        if not graded.calls:
            # As in the reference SDK, a turn without tool calls is not applicable: nothing
            # to grade, so no judge call, no score and no pass/fail; the reason says why.
            return {f"{TCA}_reason": f"not applicable: {_no_calls(inputs)}, so nothing to grade"}
        checked = {
            f"{TCA}_undefined_tools": list(findings.undefined_tools),
            f"{TCA}_schema_violations": list(findings.schema_violations),
            f"{TCA}_schema_result": "pass" if findings.passed else "fail",
            f"{TCA}_schema_reason": findings.reason(len(graded.calls)),
        }
        try:
            judged = super().evaluate(inputs, ctx)
        except RowError as exc:
            exc.extra.update(checked)  # the checks hold even when the judge gave no grade
            raise
        merged = {**judged, **checked}
        return {f.key: merged[f.key] for f in self.outputs if f.key in merged}


def _no_calls(inputs: dict[str, Any]) -> str:
    if _given(inputs, "tool_calls") is not None:
        return "the tool_calls input is empty"
    if _given(inputs, "response") is None:
        return "there is neither a response nor a tool_calls input"
    if isinstance(inputs["response"], str):
        return "the response is a text"
    return "the response makes no tool call"


def _fields(
    metric: AgentMetric, higher: bool, scale: tuple[float, float], default: float
) -> tuple[OutputField, ...]:
    fields = score_fields(metric.name, higher, scale, default)
    if metric.name != TCA:
        return fields
    return (*fields[:4], *SCHEMA_FIELDS, *fields[4:])  # after the reason, before token counts


def build_agent(
    metric: AgentMetric, alias: str, params: QualityParams, ctx: BuildContext
) -> AgentEvaluator:
    """Build an agent evaluator with its rubric (the built-in one, or ``prompt:``)."""
    from evalcli.prompts import builtin_prompt_path

    prompt = ctx.rubric(params.prompt, builtin_prompt_path(metric.name))
    check_rubric(prompt, ctx, kind="score", needs=metric.rubric_needs)
    out = prompt.output
    assert out is not None and out.min is not None and out.max is not None  # checked above
    default = out.threshold or DEFAULT_THRESHOLD
    raw = params.threshold
    threshold = check_threshold(raw if raw is not None else default, out.min, out.max, ctx)
    higher = out.direction == "higher"
    cls: type[AgentEvaluator] = (
        ToolCallAccuracyEvaluator if metric.name == TCA else TranscriptEvaluator
    )
    return cls(
        alias,
        metric.name,
        metric.name,
        metric.inputs,
        _fields(metric, higher, (out.min, out.max), default),
        prompt,
        ctx.judge(params.judge),
        threshold=threshold,
        lo=out.min,
        hi=out.max,
        higher=higher,
    )


def _factory(metric: AgentMetric) -> Any:
    def build(alias: str, params: QualityParams, ctx: BuildContext) -> AgentEvaluator:
        return build_agent(metric, alias, params, ctx)

    return build


AGENT_EVALUATORS: tuple[EvaluatorInfo, ...] = tuple(
    EvaluatorInfo(
        m.name,
        Family.QUALITY,
        m.description + " (judge, 1-5)",
        m.inputs,
        _fields(m, True, (1.0, 5.0), DEFAULT_THRESHOLD),
        _factory(m),
        QualityParams,
    )
    for m in (INTENT_RESOLUTION, TASK_ADHERENCE, TOOL_CALL_ACCURACY)
)
