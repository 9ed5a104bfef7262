"""Conversations: split ``{"messages": [...]}`` into turns, evaluate each, aggregate.

A turn is a user message paired with the assistant message that answers it. For each turn
an evaluator's own inputs are filled: ``query`` <- the user's text, ``response`` <- the
assistant's text, ``context`` <- the assistant message's ``context`` (else the user's),
``ground_truth`` <- the assistant message's ``ground_truth``, ``images`` <- image parts of both
messages. System and tool messages are skipped; consecutive user messages are joined; a
trailing user message that got no answer, and an assistant message with no question before
it, form no turn.

Per-turn results combine into one row result the evaluator's way
(:meth:`~evalcli.evaluators.base.Evaluator.combine_turns`: the mean of scores by default, the
worst turn for safety evaluators); ``aggregation:`` in the spec forces mean, max or min key
by key (see :mod:`evalcli.evaluators.turns`). The row also gets ``evaluation_per_turn`` =
``{key: [value per turn]}``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from evalcli.errors import RemoteError, RowError
from evalcli.evaluators.base import Evaluator, Outputs
from evalcli.evaluators.context import EvalContext
from evalcli.evaluators.turns import Aggregation, aggregate_turns

PER_TURN_KEY = "evaluation_per_turn"
TURN_INPUTS = frozenset({"query", "response", "context", "ground_truth", "images"})


@dataclass
class Turn:
    """One user/assistant exchange, as evaluator inputs."""

    query: str
    response: str
    context: Any = None
    ground_truth: Any = None
    images: list[dict[str, Any]] = field(default_factory=list)

    def inputs(self) -> dict[str, Any]:
        """The values this turn can fill (absent ones are left out)."""
        out: dict[str, Any] = {"query": self.query, "response": self.response}
        if self.context is not None:
            out["context"] = self.context
        if self.ground_truth is not None:
            out["ground_truth"] = self.ground_truth
        if self.images:
            out["images"] = self.images
        return out


def supports_conversation(ev: Evaluator) -> bool:
    """Whether every input of ``ev`` can be filled from a turn."""
    return bool(ev.inputs) and all(i.name in TURN_INPUTS for i in ev.inputs)


def split_turns(conversation: Any) -> list[Turn]:
    """Turns of a conversation value (``{"messages": [...]}`` or a bare message list).

    Raises:
        RowError: the value is not a conversation, or has no complete turn.
    """
    messages = conversation.get("messages") if isinstance(conversation, dict) else conversation
    if not isinstance(messages, list):
        raise RowError(
            "bad-conversation", 'conversation must be {"messages": [...]} or a list of messages'
        )
    turns: list[Turn] = []
    user: dict[str, Any] | None = None
    user_text: list[str] = []
    user_images: list[dict[str, Any]] = []
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or not isinstance(msg.get("role"), str):
            raise RowError("bad-conversation", f"message {i} needs a 'role'")
        role = msg["role"]
        if role == "user":
            text, images = _content(msg.get("content"), i)
            user = msg
            user_text.append(text)
            user_images += images
        elif role == "assistant":
            if user is None:
                continue  # an assistant message that answers nothing (a greeting) is no turn
            text, images = _content(msg.get("content"), i)
            context = msg.get("context", user.get("context"))
            turns.append(
                Turn(
                    "\n".join(user_text),
                    text,
                    context,
                    msg.get("ground_truth"),
                    user_images + images,
                )
            )
            user, user_text, user_images = None, [], []
    if not turns:
        raise RowError(
            "bad-conversation", "conversation has no user message followed by an assistant answer"
        )
    return turns


def _content(content: Any, index: int) -> tuple[str, list[dict[str, Any]]]:
    """Text and image parts of a message's content (a string or a list of parts)."""
    if isinstance(content, str):
        return content, []
    if content is None:
        return "", []
    if not isinstance(content, list):
        raise RowError(
            "bad-conversation", f"message {index}: content must be text or a list of parts"
        )
    texts: list[str] = []
    images: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "image_url":
            images.append(part)
        else:
            raise RowError(
                "bad-conversation", f"message {index}, part {j}: expected a text or image_url part"
            )
    return "\n".join(texts), images


def evaluate_conversation(
    ev: Evaluator,
    conversation: Any,
    line: int,
    evaluate: Callable[[Evaluator, dict[str, Any], EvalContext], Outputs | RowError],
    *,
    aggregation: Aggregation | None = None,
    last_turn_only: bool = False,
) -> Outputs | RowError:
    """Evaluate every turn of a conversation with ``ev`` and combine the results."""
    try:
        turns = split_turns(conversation)
    except RowError as exc:
        return exc
    if last_turn_only:
        turns = turns[-1:]
    wanted = {i.name: i.required for i in ev.inputs}
    results: list[Outputs] = []
    for n, turn in enumerate(turns, start=1):
        filled = {k: v for k, v in turn.inputs().items() if k in wanted}
        missing = [k for k, req in wanted.items() if req and k not in filled]
        if missing:
            return RowError(
                "missing-input", f"turn {n}: input {missing[0]!r} is missing in the conversation"
            )
        try:
            outcome = evaluate(ev, filled, EvalContext(line))
        except RemoteError:
            raise
        if isinstance(outcome, RowError):
            return RowError(outcome.kind, f"turn {n}: {outcome.message}", extra=outcome.extra)
        results.append(outcome)
    return combine(ev, results, aggregation)


def combine(ev: Evaluator, turns: Sequence[Outputs], aggregation: Aggregation | None) -> Outputs:
    """One row result from per-turn results, plus ``evaluation_per_turn``."""
    if aggregation is None:
        combined: Outputs = dict(ev.combine_turns(turns))  # the evaluator knows best
    else:
        combined = aggregate_turns(ev.outputs, turns, aggregation)
    keys: list[str] = []
    for t in turns:
        keys += [k for k in t if k not in keys]
    combined[PER_TURN_KEY] = {k: [t.get(k) for t in turns] for k in keys}
    return combined
