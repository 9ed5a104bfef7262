"""Shared machinery of evaluators that ask a judge model: rubric loading, calls, parsing.

A judged evaluator renders its rubric (a prompt file) with the row's inputs, asks the judge
for JSON, and turns the answer into output keys. Anything the judge says that is not a valid
answer makes the row *unscored* — a row error of kind ``judge-output-unparseable`` (or
``judge-score-out-of-range``) with the raw text kept — never a pass or a fail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evalcli.config import EvaluatorConfig, JudgeConfig
from evalcli.errors import ConfigError, PromptError, RowError
from evalcli.evaluators.base import Evaluator, InputSpec, OutputField, Role
from evalcli.evaluators.context import BuildContext, EvalContext
from evalcli.judge.client import ChatClient, ChatReply, ClientPool
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


def resolve_prompt_path(spec: EvaluatorConfig, ctx: BuildContext, default: Path | None) -> Path:
    """The rubric: ``prompt:`` in the spec (relative to the config), else ``default``."""
    if spec.prompt:
        return ctx.loaded.resolve(Path(spec.prompt))
    if default is None:
        raise ConfigError(
            f"evaluators.{ctx.alias} needs 'prompt' (a prompt file)", where=ctx.where(key=True)
        )
    return default


def judge_client(ctx: BuildContext) -> tuple[ChatClient, JudgeConfig]:
    """The shared judge client for the evaluator being built.

    Raises:
        ConfigError: no judge is configured for it.
    """
    cfg = ctx.judge_for(ctx.alias)
    if cfg is None:
        raise ConfigError(
            f"evaluator {ctx.alias!r} needs a judge model, and the config has no 'judge' section",
            where=ctx.where(key=True),
            hint="add judge: {type: azure_openai, endpoint: ..., deployment: ..., api_key: "
            "${env:AZURE_OPENAI_API_KEY}} (or type: openai with base_url/model)",
        )
    pool = ctx.services.setdefault("clients", ClientPool())
    assert isinstance(pool, ClientPool)
    return pool.get(cfg, "judge"), cfg


def sampling_params(prompt: PromptFile, cfg: JudgeConfig) -> dict[str, Any]:
    """Prompt-file parameters, overridden by judge settings the config set explicitly."""
    params = {k: prompt.model_parameters[k] for k in _PASSED_PARAMS if k in prompt.model_parameters}
    params.setdefault("temperature", cfg.temperature)
    params.setdefault("max_tokens", cfg.max_tokens)
    for key in ("temperature", "max_tokens"):
        if key in cfg.model_fields_set:
            params[key] = getattr(cfg, key)
    return params


def token_fields(key: str) -> tuple[OutputField, ...]:
    """Per-row token usage outputs of a judged result key."""
    return (
        OutputField(f"{key}_prompt_tokens", Role.PROMPT_TOKENS),
        OutputField(f"{key}_completion_tokens", Role.COMPLETION_TOKENS),
    )


class JudgedEvaluator(Evaluator):
    """Base class: render the rubric, call the judge, hand the text to :meth:`interpret`."""

    execution = "io"

    def __init__(
        self,
        alias: str,
        name: str,
        key: str,
        inputs: tuple[InputSpec, ...],
        outputs: tuple[OutputField, ...],
        prompt: PromptFile,
        client: ChatClient,
        params: dict[str, Any],
    ):
        super().__init__(alias, name, inputs, outputs)
        self.key = key
        self.prompt = prompt
        self.client = client
        self.params = params
        self.prompt_sha256 = prompt.sha256
        self.judge_label = client.label

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
