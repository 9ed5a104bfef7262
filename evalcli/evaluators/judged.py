"""Shared machinery of evaluators that ask a judge model: rubric loading, calls, parsing.

A judged evaluator renders its rubric (a prompt file) with the row's inputs, asks the judge
for JSON, and turns the answer into output keys. Anything the judge says that is not a valid
answer makes the row *unscored* — a row error of kind ``judge-output-unparseable`` (or
``judge-score-out-of-range``) with the raw text kept — never a pass or a fail.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from evalcli.config import JudgeConfig
from evalcli.errors import ConfigError, PromptError, RowError
from evalcli.evaluators.base import Evaluator, InputSpec, OutputField, Role
from evalcli.evaluators.context import BuildContext, EvalContext, Judge
from evalcli.judge.client import ChatReply
from evalcli.prompts import PromptFile, PromptFileError, PromptRenderError, lint, load_prompt

#: Sampling parameters we pass on from a prompt file; anything else there is ignored.
_PASSED_PARAMS = ("temperature", "max_tokens", "top_p", "response_format", "seed")


def load_rubric(path: Path, where: str | None = None) -> PromptFile:
    """Load and lint a prompt file; problems become exit-2 :class:`PromptError`."""
    try:
        prompt = load_prompt(path)
    except PromptFileError as exc:
        loc = f"{exc.path}:{exc.line}" if exc.line else str(exc.path)
        raise PromptError(
            exc.message, where=loc, hint=f"referenced from {where}" if where else None
        ) from None
    problems = lint(prompt)
    if problems:
        p = problems[0]
        loc = f"{prompt.path}:{p.line}" if p.line else str(prompt.path)
        more = f" ({len(problems) - 1} more)" if len(problems) > 1 else ""
        raise PromptError(
            p.message + more, where=loc, hint=f"referenced from {where}" if where else None
        )
    return prompt


def check_rubric(
    prompt: PromptFile,
    ctx: BuildContext,
    *,
    kind: Literal["score", "label"],
    needs: Iterable[str] = (),
    scale: tuple[int, int] | None = None,
    direction: Literal["higher", "lower"] | None = None,
) -> None:
    """Refuse a rubric whose output or inputs do not fit the evaluator using it.

    Args:
        kind: The output kind the evaluator reads (``score`` needs ``min`` and ``max``).
        needs: Inputs the rubric must declare.
        scale: The exact (min, max) a score must have, when the evaluator's scale is fixed.
        direction: The direction a label must have (what ``true`` means).

    Raises:
        ConfigError: at the evaluator's ``prompt`` key, saying what the file must declare.
    """
    out = prompt.output
    wanted = f"output: kind: {kind}"
    if kind == "score":
        wanted += f", min: {scale[0]}, max: {scale[1]}" if scale else ", min, max"
    if direction is not None:
        wanted += f", direction: {direction}"
    fits = out is not None and out.kind == kind
    if fits and out is not None and kind == "score":
        fits = out.min is not None and out.max is not None
        fits = fits and (scale is None or (out.min, out.max) == scale)
    if fits and out is not None and direction is not None:
        fits = out.direction == direction
    if not fits:
        raise ConfigError(
            f"the rubric {prompt.path} must declare a {kind} output ({wanted})",
            where=ctx.where("prompt"),
        )
    missing = set(needs) - set(prompt.inputs)
    if missing:
        raise ConfigError(
            f"the rubric {prompt.path} must declare the inputs {', '.join(sorted(missing))}",
            where=ctx.where("prompt"),
        )


def sampling_params(prompt: PromptFile, cfg: JudgeConfig) -> dict[str, Any]:
    """Prompt-file parameters, overridden by judge settings the config set explicitly."""
    params = {k: prompt.model_parameters[k] for k in _PASSED_PARAMS if k in prompt.model_parameters}
    for key, value in (("temperature", cfg.temperature), ("max_tokens", cfg.max_tokens)):
        if key in cfg.model_fields_set or key not in params:
            params[key] = value
    return params


def judge_fields(key: str) -> tuple[OutputField, ...]:
    """Per-row token usage outputs of a judged result key, and its rubric hash."""
    return (
        OutputField(f"{key}_prompt_tokens", Role.PROMPT_TOKENS),
        OutputField(f"{key}_completion_tokens", Role.COMPLETION_TOKENS),
        OutputField(f"{key}_prompt_sha256", Role.INFO),
    )


class JudgedEvaluator(Evaluator):
    """Base class of evaluators that ask a judge: render the rubric, call, keep the usage.

    Args:
        alias: The evaluator's alias.
        name: Its registered name.
        key: The result key its outputs are named after (``<key>_reason``, ...).
        inputs: Declared inputs (a subset of the rubric's).
        outputs: Declared outputs, including :func:`judge_fields` of ``key``.
        prompt: The rubric (:meth:`BuildContext.rubric`).
        judge: The judge to ask (:meth:`BuildContext.judge`); sampling settings come from
            the rubric, overridden by those the judge's config sets explicitly.
    """

    execution = "io"

    def __init__(
        self,
        alias: str,
        name: str,
        key: str,
        inputs: tuple[InputSpec, ...],
        outputs: tuple[OutputField, ...],
        prompt: PromptFile,
        judge: Judge,
    ):
        super().__init__(alias, name, inputs, outputs)
        self.key = key
        self.prompt = prompt
        self.client = judge.client
        self.params = sampling_params(prompt, judge.settings)
        self.prompt_sha256: str = prompt.sha256
        self.judge_label = judge.label
        self.pricing = judge.pricing

    def ask(
        self,
        inputs: dict[str, Any],
        ctx: EvalContext,
        extra_user_parts: list[dict[str, Any]] | None = None,
    ) -> ChatReply:
        """Render and send the rubric; returns the judge's reply."""
        messages = self.messages_for(inputs, extra_user_parts)
        meta = {"evaluator": self.alias, "line": ctx.line, "prompt_sha256": self.prompt_sha256}
        return self.client.chat(messages, self.params, meta)

    def messages_for(
        self, inputs: dict[str, Any], extra_user_parts: list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """The chat messages this evaluator would send for ``inputs``."""
        try:
            messages = self.prompt.render(inputs)
        except PromptRenderError as exc:
            raise RowError("bad-input", f"cannot fill the rubric: {exc.message}") from None
        if extra_user_parts:
            messages = _with_parts(messages, extra_user_parts)
        return messages

    def usage(self, reply: ChatReply) -> dict[str, Any]:
        """Token outputs for a reply."""
        return {
            f"{self.key}_prompt_tokens": reply.prompt_tokens,
            f"{self.key}_completion_tokens": reply.completion_tokens,
        }

    def bookkeeping(self, reply: ChatReply) -> dict[str, Any]:
        """Token outputs for a reply, and the rubric's hash (the row's last keys)."""
        return {**self.usage(reply), f"{self.key}_prompt_sha256": self.prompt_sha256}

    def unscored(self, kind: str, message: str, reply: ChatReply) -> RowError:
        """A row error that keeps the raw judge answer and the tokens it cost."""
        return RowError(
            kind, message, extra={f"{self.key}_raw_output": reply.text, **self.usage(reply)}
        )

    def describe_params(self) -> dict[str, Any]:
        return {"prompt": str(self.prompt.path), **self.params}


def _with_parts(
    messages: list[dict[str, Any]], parts: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Append content parts (images) to the last user message."""
    out = [dict(m) for m in messages]
    for m in reversed(out):
        if m.get("role") == "user":
            text = m.get("content")
            m["content"] = [{"type": "text", "text": text or ""}, *parts]
            break
    return out
