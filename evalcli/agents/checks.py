"""Deterministic checks of tool calls against their definitions (no judge involved).

A call to a tool that no definition names is an *undefined tool*; a call whose arguments do
not validate against its tool's ``parameters`` (JSON Schema Draft 2020-12) is a *schema
violation*. Schemas are compiled by :func:`evalcli.metrics.json_checks.compile_schema`, which
never fetches a ``$ref`` from the network or the disk. Datasets usually repeat the same
definitions on every row, so compiled schemas are kept in a small cache.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from evalcli.agents.shapes import ShapeError, ToolCall, ToolDefinition

#: Longest violation message kept (jsonschema repeats the offending value, which can be huge).
MESSAGE_LIMIT = 160
#: Most violations listed for one call.
MAX_PER_CALL = 5


@dataclass(frozen=True)
class CallFindings:
    """What the checks found in one row's tool calls.

    Attributes:
        undefined_tools: Names of called tools no definition names, in call order, once each.
        schema_violations: ``<tool> <call id>: <JSON path>: <message>``, one per violation.
    """

    undefined_tools: tuple[str, ...]
    schema_violations: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """No undefined tool and no schema violation."""
        return not self.undefined_tools and not self.schema_violations

    def reason(self, calls: int) -> str:
        """One sentence on the findings."""
        if self.passed:
            what = "the tool call names" if calls == 1 else f"all {calls} tool calls name"
            return f"{what} a defined tool with arguments that fit its schema"
        parts = []
        if self.undefined_tools:
            parts.append("undefined tools: " + ", ".join(map(repr, self.undefined_tools)))
        if self.schema_violations:
            parts.append("; ".join(self.schema_violations))
        return "; ".join(parts)


@lru_cache(maxsize=256)
def _compiled(schema_json: str) -> Any:
    from evalcli.metrics.json_checks import compile_schema

    return compile_schema(json.loads(schema_json))


def _validator(definition: ToolDefinition) -> Any:
    key = json.dumps(definition.parameters, sort_keys=True)
    try:
        return _compiled(key)
    except ValueError as exc:
        raise ShapeError(f"{definition.where}.parameters: {exc}") from None


def _short(message: str) -> str:
    return message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 3] + "..."


def check_calls(calls: Iterable[ToolCall], definitions: Iterable[ToolDefinition]) -> CallFindings:
    """Check each call against the definition of its tool.

    Raises:
        ShapeError: a definition's ``parameters`` is not a valid schema (or refers outside
            itself), which makes every call to that tool uncheckable.
    """
    by_name = {d.name: d for d in definitions}
    undefined: list[str] = []
    violations: list[str] = []
    for call in calls:
        definition = by_name.get(call.name)
        if definition is None:
            if call.name not in undefined:
                undefined.append(call.name)
            continue
        if definition.parameters is None:
            continue
        errors = sorted(
            _validator(definition).iter_errors(call.arguments), key=lambda e: list(map(str, e.path))
        )
        label = f"{call.name} {call.id}" if call.id else call.name
        for error in errors[:MAX_PER_CALL]:
            violations.append(f"{label}: {error.json_path}: {_short(error.message)}")
        if len(errors) > MAX_PER_CALL:
            violations.append(f"{label}: and {len(errors) - MAX_PER_CALL} more violations")
    return CallFindings(tuple(undefined), tuple(violations))
