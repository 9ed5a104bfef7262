"""Conversations: split ``{"messages": [...]}`` into turns, evaluate each, aggregate.

A turn is a user message paired with the assistant message that answers it. For each turn
an evaluator's own inputs are filled: ``query`` <- the user's text, ``response`` <- the
assistant's text, ``context`` <- the assistant message's ``context`` (else the user's),
``ground_truth`` <- the assistant message's ``ground_truth``, ``images`` <- image parts of both
messages. System and tool messages are skipped; consecutive user messages are joined; a
trailing user message that got no answer, and an assistant message with no question before
it, form no turn.

Per-turn results combine into one row result: numeric scores by the evaluator's aggregation
(mean for quality, max for safety; ``aggregation:`` in the spec overrides it), token counts
summed, pass/fail recomputed from the aggregated score, texts taken from the last turn. The row
also gets ``evaluation_per_turn`` = ``{key: [value per turn]}``.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from evalcli.errors import RemoteError, RowError
from evalcli.evaluators.base import Evaluator, OutputField, Outputs, Role
from evalcli.evaluators.context import EvalContext

PER_TURN_KEY = "evaluation_per_turn"
TURN_INPUTS = frozenset({"query", "response", "context", "ground_truth", "images"})
Aggregation = Literal["mean", "max", "min"]


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
    combiner = getattr(ev, "combine_turns", None)
    if aggregation is None and callable(combiner):
        combined: Outputs = dict(combiner(turns))  # the evaluator knows best (e.g. worst turn)
    else:
        default: Aggregation = getattr(ev, "conversation_aggregation", "mean")
        how: Aggregation = aggregation or default
        combined = _aggregate(ev.outputs, turns, how)
    keys: list[str] = []
    for t in turns:
        keys += [k for k in t if k not in keys]
    combined[PER_TURN_KEY] = {k: [t.get(k) for t in turns] for k in keys}
    return combined


def _aggregate(
    fields: Sequence[OutputField], turns: Sequence[Outputs], how: Aggregation
) -> Outputs:
    last = dict(turns[-1])
    by_key = {f.key: f for f in fields}
    out: Outputs = dict(last)
    picks: dict[str, Callable[[list[float]], float]] = {
        "mean": statistics.fmean,
        "max": max,
        "min": min,
    }
    pick = picks[how]
    for key, f in by_key.items():
        values: list[Any] = [t[key] for t in turns if t.get(key) is not None]
        if not values:
            continue
        if f.role in (Role.PROMPT_TOKENS, Role.COMPLETION_TOKENS):
            out[key] = sum(int(v) for v in values)
        elif f.role in (Role.SCORE, Role.SEVERITY) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values
        ):
            agg = pick([float(v) for v in values])
            out[key] = int(agg) if how != "mean" and float(agg).is_integer() else agg
        elif f.role is Role.LABEL and all(isinstance(v, bool) for v in values):
            # A problem in any turn is a problem; "good" labels must hold in every turn.
            out[key] = all(values) if f.label_metric == "passing_rate" else any(values)
    # Severity labels follow the aggregated severity (floored for a mean), not the last turn.
    for f in fields:
        if f.role is not Role.SEVERITY_LABEL:
            continue
        severity = next(
            (
                out.get(g.key)
                for g in fields
                if g.role is Role.SEVERITY and g.metric_stem == f.metric_stem
            ),
            None,
        )
        if isinstance(severity, int | float) and not isinstance(severity, bool):
            from evalcli.safety.severity import severity_label

            out[f.key] = severity_label(int(severity))
    # Pass/fail follows the aggregated score, not the last turn.
    for f in fields:
        if f.role is not Role.RESULT:
            continue
        score_field = next(
            (
                g
                for g in fields
                if g.role in (Role.SCORE, Role.SEVERITY) and g.metric_stem == f.metric_stem
            ),
            None,
        )
        threshold = out.get(f"{f.metric_stem}_threshold")
        if score_field is None or not isinstance(threshold, int | float):
            continue
        score = out.get(score_field.key)
        if isinstance(score, int | float):
            higher = score_field.higher_is_better is not False and score_field.role is Role.SCORE
            ok = score >= threshold if higher else score <= threshold
            out[f.key] = "pass" if ok else "fail"
    return out
