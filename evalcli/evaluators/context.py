"""Contexts handed to evaluators: one at build time, one per (row, evaluator) call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalcli.config import JudgeConfig, LoadedConfig


class EvalContext:
    """Per-row helpers shared by the evaluators of one row.

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


@dataclass
class BuildContext:
    """What evaluator factories may use while validating their spec and building themselves.

    Attributes:
        loaded: The loaded config (for resolving paths and reporting file:line locations).
        alias: Alias of the evaluator being built.
        judge_for: Returns the judge settings for an evaluator (its override or the run's).
        services: Shared services created lazily (judge clients, safety backends), by name.
        warnings: Where :meth:`warn` collects messages; the plan passes one list to every
            evaluator's context, and ``validate`` / ``run`` print them.
    """

    loaded: LoadedConfig
    alias: str
    judge_for: Callable[[str], JudgeConfig | None] = lambda alias: None
    services: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def where(self, *loc: str | int, key: bool = False) -> str:
        """``file:line:col`` of a key inside this evaluator's spec."""
        return self.loaded.where("evaluators", self.alias, *loc, key=key)

    def warn(self, message: str) -> None:
        """Report something that works but deserves the user's attention (never fatal)."""
        self.warnings.append(message)
