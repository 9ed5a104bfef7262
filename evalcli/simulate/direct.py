"""``simulate direct`` (UPIA): jailbreak techniques applied to the user turn.

The attacked text is a column (``--column query``, the default; dotted paths reach nested
values) or a user message of a conversation (``--conversation-column COL``: a ``{"messages":
[...]}`` object or a bare message list; ``--turn first``, the default, attacks the first user
message as the reference's direct-attack datasets do, ``--turn last`` the last one). A
message whose content is a list of parts has its first text part attacked; image parts are
kept as they are. Everything else in the row is copied unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from evalcli.dataset import MISSING, Dataset, Row
from evalcli.simulate.errors import SimulateError
from evalcli.simulate.generate import Summary, simulate
from evalcli.simulate.io import get_path, missing_column, set_path
from evalcli.simulate.techniques import Rewriter, Technique, check_counts, load_techniques

Turn = Literal["first", "last"]


class DirectAttack:
    """Replaces the user turn with the technique's output."""

    kind = "direct"
    extra_columns: tuple[str, ...] = ()

    def __init__(self, column: str | None, conversation_column: str | None, turn: Turn) -> None:
        if column is not None and conversation_column is not None:
            raise SimulateError("give --column or --conversation-column, not both")
        if turn not in ("first", "last"):
            raise SimulateError(f"--turn must be first or last, got {turn!r}")
        self.conversation_column = conversation_column
        self.column = None if conversation_column else (column or "query")
        self.turn: Turn = turn

    def check(self, dataset: Dataset, row: Row) -> None:
        """Every row must hold the text (or conversation turn) to attack."""
        self._locate(dataset, row)

    def _locate(self, dataset: Dataset | None, row: Row) -> tuple[dict[str, Any] | None, str, str]:
        """(the dict holding the text or None for a column, its key there, the text)."""
        where = f"{dataset.path}:{row.line}" if dataset else f"row {row.line}"
        if self.column is not None:
            value = get_path(row.data, self.column)
            if value is MISSING:
                if dataset is None:
                    raise SimulateError(f"row {row.line} has no {self.column!r} column")
                raise missing_column(dataset, row, self.column, "--column")
            if not isinstance(value, str):
                raise SimulateError(
                    f"row {row.line}: {self.column!r} must be text to attack, "
                    f"got {type(value).__name__}",
                    where=where,
                    hint="for a conversation use --conversation-column",
                )
            return None, self.column, value
        assert self.conversation_column is not None
        value = get_path(row.data, self.conversation_column)
        if value is MISSING:
            if dataset is None:
                raise SimulateError(f"row {row.line} has no {self.conversation_column!r} column")
            raise missing_column(dataset, row, self.conversation_column, "--conversation-column")
        messages = value.get("messages") if isinstance(value, dict) else value
        if not isinstance(messages, list):
            raise SimulateError(
                f'row {row.line}: {self.conversation_column!r} must be {{"messages": [...]}} '
                "or a list of messages",
                where=where,
            )
        users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        if not users:
            raise SimulateError(
                f"row {row.line}: the conversation has no user message to attack", where=where
            )
        message = users[0] if self.turn == "first" else users[-1]
        content = message.get("content")
        if isinstance(content, str):
            return message, "content", content
        if isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") == "text":
                    text = part.get("text")
                    if isinstance(text, str):
                        return part, "text", text
        raise SimulateError(
            f"row {row.line}: the {self.turn} user message has no text to attack", where=where
        )

    def baseline_tags(self) -> dict[str, Any]:
        """Direct attacks add no columns beyond the common tags."""
        return {}

    def variants(
        self, data: dict[str, Any], technique: Technique, key: tuple[object, ...], per_row: int
    ) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
        """K attacked copies of the row."""
        payload = self._locate(None, Row(0, data))[2]
        for k in range(per_row):
            attacked = technique.apply(payload, key, k)
            variant = copy.deepcopy(data)
            holder, name, _ = self._locate(None, Row(0, variant))
            if holder is None:
                set_path(variant, name, attacked)
            else:
                holder[name] = attacked
            yield str(k + 1), variant, {}

    def options(self) -> dict[str, Any]:
        """For the sidecar."""
        if self.column is not None:
            return {"column": self.column}
        return {"conversation_column": self.conversation_column, "turn": self.turn}


def simulate_direct(
    input_path: Path,
    output_path: Path,
    *,
    techniques: Sequence[str] = (),
    seed: int = 0,
    per_row: int = 1,
    column: str | None = None,
    conversation_column: str | None = None,
    turn: Turn = "first",
    templates_dir: Path | None = None,
    id_column: str | None = None,
    rewriter: Rewriter | None = None,
) -> Summary:
    """Write a direct-attack dataset: every baseline row, then its attacked variants.

    Args:
        input_path: The baseline dataset (JSONL, CSV or JSON array).
        output_path: The JSONL file to write (plus ``<output>.meta.json``).
        techniques: ``--technique`` values; empty means every direct template alone.
        seed: Seed of every random choice.
        per_row: Variants per technique and row (K).
        column: Column holding the user turn (default ``query``).
        conversation_column: Column holding a conversation instead.
        turn: Which user message of a conversation to attack.
        templates_dir: Directory of additional templates.
        id_column: Column identifying baseline rows (default ``id`` when unique, else position).
        rewriter: The ``model_rewrite`` step of ``--attacker-config``
            (:func:`evalcli.simulate.attacker.open_attacker`); it asks for ``per_row``
            rewrites per row.

    Raises:
        UsageError: bad options, templates or input (nothing is written).
        AttackerError: the attacker model failed (nothing is written).
    """
    attack = DirectAttack(column, conversation_column, turn)
    chains = load_techniques(techniques, templates_dir, "direct", rewriter)
    check_counts(seed, per_row)
    return simulate(
        attack, input_path, output_path, chains, seed=seed, per_row=per_row, id_column=id_column
    )
