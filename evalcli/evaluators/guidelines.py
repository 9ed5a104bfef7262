"""``guidelines``: natural-language rules, each passed or failed by the judge in one call per row.

The rules come from ``params: {guidelines: [...]}`` or from ``params: {guidelines_file: path}``
(relative to the config; a ``.yaml``/``.yml``/``.json`` file holds a list of texts, any other
file one guideline per line, ``#`` lines and blank lines skipped). They are data: evalcli
numbers them and renders them as the value of the rubric's ``guidelines`` variable, inside a
message the rubric file already split off, so neither a guideline nor a response can add a
message or change a role. ``response`` and ``query`` are texts, or an agent's messages (with
tool calls and results), rendered as the agent evaluators render them
(:mod:`evalcli.agents`).

The judge answers ``{"guidelines": [{"id": 1, "verdict": "pass"|"fail", "reason": ...}, ...]}``.
Row keys: ``guideline_<i>_result`` and ``guideline_<i>_reason`` per guideline (``i`` from 1,
in the order given), ``guidelines_result`` (pass only when every guideline passes) and
``guidelines_reason``. An answer that lacks a verdict for some guideline, repeats one, or
gives one that is neither pass nor fail leaves the row unscored, with the raw answer kept.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar

import yaml
from pydantic import AfterValidator, Field, model_validator

from evalcli.agents import Run, ShapeError, link_results, parse_run, render_run
from evalcli.errors import ConfigError, RowError
from evalcli.evaluators.base import (
    EvaluatorInfo,
    Family,
    InputSpec,
    OutputField,
    Outputs,
    Role,
)
from evalcli.evaluators.context import BuildContext, EvalContext
from evalcli.evaluators.declaration import TOKEN_ROLES, Options
from evalcli.evaluators.judged import JudgedEvaluator, check_rubric, judge_fields
from evalcli.evaluators.params import JudgedParams
from evalcli.judge.client import ChatReply
from evalcli.judge.parse import UNPARSEABLE, extract_json_object

KEY = "guidelines"
INPUTS = (InputSpec("response", kind="any"), InputSpec("query", required=False, kind="any"))
_VERDICTS = {"pass": True, "fail": False}
#: Characters of a guideline quoted in ``guidelines_reason``.
_QUOTED = 60


def _non_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must be a guideline's text, not blank")
    return text.strip()


GuidelineText = Annotated[str, AfterValidator(_non_blank)]


class GuidelinesOptions(Options):
    """``params`` of ``guidelines``: the rules, inline or in a file (exactly one of the two)."""

    guidelines: list[GuidelineText] | None = Field(default=None, min_length=1)
    guidelines_file: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> GuidelinesOptions:
        if (self.guidelines is None) == (self.guidelines_file is None):
            raise ValueError(
                "give either guidelines (a list of rules) or guidelines_file (a file of rules)"
                + (", not both" if self.guidelines is not None else "")
            )
        return self


class GuidelinesParams(JudgedParams):
    """Settings of ``guidelines``: the rules (``params``), and the judge and rubric."""

    refused: ClassVar[dict[str, str]] = {
        "threshold": "does not apply: each guideline passes or fails, there is no score"
    }

    params: GuidelinesOptions = Field(
        description='{guidelines: ["The response must ...", ...]} or {guidelines_file: path}'
    )


def _fields(count: int | None) -> tuple[OutputField, ...]:
    """Outputs for ``count`` guidelines (``None``: the declaration's ``<i>`` placeholders)."""
    ids: Sequence[str] = ["<i>"] if count is None else [str(i) for i in range(1, count + 1)]
    per_rule = tuple(
        field
        for i in ids
        for field in (
            OutputField(f"guideline_{i}_result", Role.RESULT, stem=f"guideline_{i}"),
            OutputField(f"guideline_{i}_reason", Role.REASON, stem=f"guideline_{i}"),
        )
    )
    return (
        OutputField(f"{KEY}_result", Role.RESULT, stem=KEY, primary=True),
        OutputField(f"{KEY}_reason", Role.REASON, stem=KEY),
        *per_rule,
        *judge_fields(KEY),
    )


def render_guidelines(rules: Sequence[str]) -> str:
    """The rubric's ``guidelines`` value: ``<guideline id="N">text</guideline>`` lines."""
    return "\n".join(f'<guideline id="{i}">{rule}</guideline>' for i, rule in enumerate(rules, 1))


def _verdicts(data: dict[str, Any] | None, count: int) -> dict[int, tuple[bool, str]] | str:
    """Verdict and reason per guideline id, or what is wrong with the answer."""
    items = data.get(KEY) if data is not None else None
    if not isinstance(items, list):
        return 'the answer has no "guidelines" list of verdicts'
    found: dict[int, tuple[bool, str]] = {}
    for item in items:
        raw_id = item.get("id") if isinstance(item, dict) else None
        ident = int(raw_id) if isinstance(raw_id, int | str) and str(raw_id).isdigit() else None
        if ident is None:
            return f"a verdict without a guideline id: {json.dumps(item)[:80]}"
        if not 1 <= ident <= count:
            return f"a verdict for guideline {ident}, but there are {count}"
        if ident in found:
            return f"two verdicts for guideline {ident}"
        verdict = item.get("verdict")
        passed = _VERDICTS.get(verdict.strip().lower()) if isinstance(verdict, str) else None
        if passed is None:
            return f"guideline {ident}: the verdict {verdict!r} is neither 'pass' nor 'fail'"
        reason = item.get("reason")
        found[ident] = (passed, reason if isinstance(reason, str) else "")
    missing = [str(i) for i in range(1, count + 1) if i not in found]
    if missing:
        return f"no verdict for guideline {', '.join(missing)} (of {count})"
    return found


class GuidelinesEvaluator(JudgedEvaluator):
    """Checks a response against natural-language guidelines, one judge call per row."""

    def __init__(self, *args: Any, rules: tuple[str, ...], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.rules = rules
        self.rendered = render_guidelines(rules)

    def messages_for(
        self, inputs: dict[str, Any], extra_user_parts: list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """The rubric rendered with the row's texts and the guidelines."""
        return super().messages_for({KEY: self.rendered, **_texts(inputs)}, extra_user_parts)

    def evaluate(self, inputs: dict[str, Any], ctx: EvalContext) -> Outputs:
        reply = self.ask(inputs, ctx)
        verdicts = _verdicts(extract_json_object(reply.text, (KEY,)), len(self.rules))
        if isinstance(verdicts, str):
            raise self.unscored(UNPARSEABLE, f"the judge's answer is unusable: {verdicts}", reply)
        return self._outputs(verdicts, reply)

    def _outputs(self, verdicts: dict[int, tuple[bool, str]], reply: ChatReply) -> Outputs:
        out: Outputs = {}
        for i in range(1, len(self.rules) + 1):
            passed, reason = verdicts[i]
            out[f"guideline_{i}_result"] = "pass" if passed else "fail"
            out[f"guideline_{i}_reason"] = reason
        return {**self._overall(out), **out, **self.bookkeeping(reply)}

    def _overall(self, per_rule: Outputs) -> Outputs:
        failed = [
            i for i in range(1, len(self.rules) + 1) if per_rule[f"guideline_{i}_result"] != "pass"
        ]
        n = len(self.rules)
        if not failed:
            reason = f"all {n} guidelines passed" if n > 1 else "the guideline passed"
        else:
            quoted = "; ".join(f"{i}: {_quote(self.rules[i - 1])}" for i in failed)
            reason = f"{len(failed)} of {n} guidelines failed ({quoted})"
        return {f"{KEY}_result": "fail" if failed else "pass", f"{KEY}_reason": reason}

    def combine_turns(self, turns: Sequence[Outputs]) -> Outputs:
        """A guideline passes a conversation only if it passed every turn; the reason is that
        of its first failing turn. Token counts are summed."""
        combined = dict(turns[-1])
        for i in range(1, len(self.rules) + 1):
            key = f"guideline_{i}_result"
            failing = next((t for t in turns if t.get(key) == "fail"), None)
            if failing is not None:
                combined[key] = "fail"
                combined[f"guideline_{i}_reason"] = failing.get(f"guideline_{i}_reason", "")
        for f in self.outputs:
            if f.role in TOKEN_ROLES:
                combined[f.key] = sum(int(t.get(f.key) or 0) for t in turns)
        combined.update(self._overall(combined))
        return combined

    def describe_params(self) -> dict[str, Any]:
        return {KEY: list(self.rules), **super().describe_params()}


def _texts(inputs: dict[str, Any]) -> dict[str, str]:
    """``response`` and ``query`` (when given) as texts: message lists are rendered.

    Raises:
        RowError: ``bad-input``: neither a text nor a list, or a malformed message list.
    """
    runs: dict[str, Run] = {}
    try:
        for name in ("query", "response"):
            value = inputs.get(name)
            if value is None and name == "query":
                continue
            if not isinstance(value, str | list):
                kind = "null" if value is None else type(value).__name__
                raise ShapeError(f"{name}: must be text or a list of messages, got {kind}")
            runs[name] = parse_run(value, name)
        link_results(*runs.values())  # a result in the response may answer a query's call
    except ShapeError as exc:
        raise RowError("bad-input", str(exc)) from None
    names = {c.id: c.name for run in runs.values() for c in run.tool_calls if c.id}
    return {name: render_run(run, names) for name, run in runs.items()}


def _quote(rule: str) -> str:
    return repr(rule if len(rule) <= _QUOTED else rule[: _QUOTED - 3] + "...")


def read_guidelines_file(path: Path, ctx: BuildContext) -> tuple[str, ...]:
    """The rules of a guidelines file (see the module docstring for the formats).

    Raises:
        ConfigError: at ``params.guidelines_file``: unreadable, malformed, or no rule in it.
    """
    where = ctx.where("params", "guidelines_file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(
            f"cannot read the guidelines file {path}: {reason}", where=where
        ) from None
    if path.suffix.lower() in (".yaml", ".yml", ".json"):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f"{path}:{mark.line + 1}" if mark is not None else str(path)
            problem = getattr(exc, "problem", None) or "not valid YAML"
            raise ConfigError(
                f"the guidelines file {at} is not valid YAML: {problem}", where=where
            ) from None
        if not isinstance(data, list) or not all(isinstance(r, str) for r in data):
            raise ConfigError(f"{path} must hold a list of guideline texts", where=where)
        rules = [r.strip() for r in data]
    else:
        rules = [line.strip() for line in text.splitlines() if not line.lstrip().startswith("#")]
    rules = [r for r in rules if r]
    if not rules:
        raise ConfigError(f"the guidelines file {path} holds no guideline", where=where)
    return tuple(rules)


def build_guidelines(
    alias: str, params: GuidelinesParams, ctx: BuildContext
) -> GuidelinesEvaluator:
    """Build ``guidelines`` from its settings (the rules inline or from their file)."""
    from evalcli.prompts import builtin_prompt_path

    options = params.params
    if options.guidelines_file is not None:
        rules = read_guidelines_file(ctx.loaded.resolve(Path(options.guidelines_file)), ctx)
    else:
        assert options.guidelines is not None  # one of the two, by the model's validator
        rules = tuple(options.guidelines)
    prompt = ctx.rubric(params.prompt, builtin_prompt_path(KEY))
    check_rubric(prompt, ctx, kind="label", needs=(KEY, "response"), direction="higher")
    declared = set(prompt.inputs)
    return GuidelinesEvaluator(
        alias,
        KEY,
        KEY,
        tuple(i for i in INPUTS if i.required or i.name in declared),
        _fields(len(rules)),
        prompt,
        ctx.judge(params.judge),
        rules=rules,
    )


GUIDELINES = EvaluatorInfo(
    KEY,
    Family.QUALITY,
    "Does the response follow each of your natural-language guidelines? (judge, pass/fail)",
    INPUTS,
    _fields(None),
    build_guidelines,
    GuidelinesParams,
)
