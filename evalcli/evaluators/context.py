"""Contexts handed to evaluators: one at build time, one per (row, evaluator) call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalcli.errors import ConfigError

if TYPE_CHECKING:
    from evalcli.config import JudgeConfig, LoadedConfig, Pricing
    from evalcli.judge.client import ChatClient, ChatReply, ClientPool
    from evalcli.prompts import PromptFile


class EvalContext:
    """Per-row helpers shared by the evaluators of one row.

    Attributes:
        line: The row's line (1-based) in the dataset.

    Tokenization is the dominant cost of BLEU/GLEU/METEOR, so each distinct text of a row is
    tokenized once and shared by every NLP evaluator of that row.
    """

    __slots__ = ("_tokens", "line")

    def __init__(self, line: int) -> None:
        self.line = line
        self._tokens: dict[str, list[str]] = {}

    def tokens(self, text: str) -> list[str]:
        """The reference tokenization of ``text`` (memoised for this row)."""
        cached = self._tokens.get(text)
        if cached is None:
            from evalcli.nlp import tokenize

            cached = self._tokens[text] = tokenize(text)
        return cached


@dataclass(frozen=True)
class Judge:
    """The judge model an evaluator calls: the run's shared client and its settings.

    Attributes:
        client: The shared chat client (one per distinct connection in a run).
        settings: The judge settings it was made from (the evaluator's or the run's).
    """

    client: ChatClient
    settings: JudgeConfig

    def chat(
        self,
        messages: list[dict[str, Any]],
        params: Mapping[str, Any],
        meta: Mapping[str, Any] | None = None,
    ) -> ChatReply:
        """One chat completion (or its answer from the call cache), retried as configured.

        Raises:
            evalcli.errors.RowError: this call failed (the row records the error).
            evalcli.errors.RemoteError: the judge refuses us or is down (the run stops).
        """
        return self.client.chat(messages, params, meta)

    @property
    def label(self) -> str:
        """``judge azure_openai deployment 'gpt-4o' at https://...`` (no secrets)."""
        return self.client.label

    @property
    def pricing(self) -> Pricing | None:
        """Token prices of the judge, if configured."""
        return self.settings.pricing


@dataclass
class BuildContext:
    """What evaluator factories may use while building themselves.

    Attributes:
        loaded: The loaded config (for resolving paths and reporting file:line locations).
        alias: Alias of the evaluator being built.
        services: Shared services created lazily (judge clients, safety backends), by name.
        warnings: Where :meth:`warn` collects messages; the plan passes one list to every
            evaluator's context, and ``validate`` / ``run`` print them.
        concurrency: The run's concurrency: the default call limit of each shared client.
    """

    loaded: LoadedConfig
    alias: str
    services: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    concurrency: int = 8

    def where(self, *loc: str | int, key: bool = False) -> str:
        """``file:line:col`` of a key inside this evaluator's spec."""
        return self.loaded.where("evaluators", self.alias, *loc, key=key)

    def warn(self, message: str) -> None:
        """Report something that works but deserves the user's attention (never fatal)."""
        self.warnings.append(message)

    @property
    def columns(self) -> Mapping[str, str]:
        """This evaluator's own ``columns:`` mapping (input name -> reference)."""
        return self.loaded.config.evaluators[self.alias].columns

    def judge(self, override: JudgeConfig | None = None) -> Judge:
        """The judge this evaluator calls: ``override`` (its own ``judge:``), else the run's.

        Raises:
            ConfigError: no judge is configured for it.
        """
        settings = override or self.loaded.config.judge
        if settings is None:
            raise ConfigError(
                f"evaluator {self.alias!r} needs a judge model, and the config has no 'judge' "
                "section",
                where=self.where(key=True),
                hint="add judge: {type: azure_openai, endpoint: ..., deployment: ..., api_key: "
                "${env:AZURE_OPENAI_API_KEY}} (or type: openai with base_url/model)",
            )
        return Judge(self.client_pool().get(settings, "judge"), settings)

    def client_pool(self) -> ClientPool:
        """The run's shared client pool (judges, chat targets, Content Safety)."""
        return client_pool(self.services, self.concurrency)

    def rubric(self, prompt: str | None, default: Path | None = None) -> PromptFile:
        """Load and lint a rubric: ``prompt`` (relative to the config) or ``default``.

        Raises:
            ConfigError: neither is given.
            evalcli.errors.PromptError: the file is missing or fails the lint.
        """
        from evalcli.evaluators.judged import load_rubric

        if prompt:
            return load_rubric(self.loaded.resolve(Path(prompt)), self.where("prompt"))
        if default is None:
            raise ConfigError(
                f"evaluators.{self.alias} needs 'prompt' (a prompt file)",
                where=self.where(key=True),
            )
        return load_rubric(default)


def client_pool(services: dict[str, Any], concurrency: int) -> ClientPool:
    """``services["clients"]``, created on first use with that default call limit.

    Created only when something calls out (a judge, a chat target, Content Safety), so that
    validating a config of local metrics never imports the client stack (start-up, issue 15).
    """
    from evalcli.judge.client import ClientPool

    pool = services.get("clients")
    if pool is None:
        pool = services["clients"] = ClientPool(concurrency=concurrency)
    assert isinstance(pool, ClientPool)
    return pool
