"""Agent runs as the plain text a rubric shows the judge.

Every message becomes a header line in square brackets (``[user]``, ``[assistant]``,
``[tool call call_1] get_orders {"account": "888"}``, ``[tool result call_1 from
get_orders]``) followed by its text, indented by two spaces. The indentation keeps the
material visibly apart from the headers; it is a reading aid, not a defence: the rubric's
messages are split before any value is rendered, so no text here can start a message.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from evalcli.agents.shapes import Message, Run, ToolCall, ToolDefinition


def _indented(text: str) -> str:
    return "\n".join("  " + line if line else "" for line in text.split("\n"))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def call_line(call: ToolCall) -> str:
    """``[tool call <id>] <name> <arguments as JSON>``."""
    ident = f" {call.id}" if call.id else ""
    return f"[tool call{ident}] {call.name} {_json(call.arguments)}"


def render_run(run: Run, names: Mapping[str, str]) -> str:
    """A query or response as text.

    Args:
        run: The parsed input.
        names: Tool name by call id (to name the tool a result comes from).
    """
    if run.text is not None:
        return run.text
    return "\n".join(_message(m, names) for m in run.messages)


def _message(message: Message, names: Mapping[str, str]) -> str:
    lines: list[str] = []
    if message.role == "tool":
        assert message.call_id is not None
        tool = names.get(message.call_id)
        source = f" from {tool}" if tool else ""
        lines.append(f"[tool result {message.call_id}{source}]")
        lines.append(_indented(message.text))
        return "\n".join(lines)
    if message.text or not message.tool_calls:
        lines.append(f"[{message.role}]")
        lines.append(_indented(message.text))
    lines += [call_line(c) for c in message.tool_calls]
    return "\n".join(lines)


def render_definitions(definitions: Iterable[ToolDefinition]) -> str:
    """One entry per tool: ``- name: description`` and its parameters schema as JSON."""
    out = []
    for d in definitions:
        entry = f"- {d.name}: {d.description}" if d.description else f"- {d.name}"
        if d.parameters is not None:
            entry += "\n  parameters: " + _json(d.parameters)
        out.append(entry)
    return "\n".join(out)


def render_calls(calls: Iterable[ToolCall], results: Mapping[str, Message]) -> str:
    """The calls to grade, numbered, each with its arguments and its result (if any)."""
    out = []
    for n, call in enumerate(calls, 1):
        ident = f" (id {call.id})" if call.id else ""
        entry = [f"{n}. {call.name}{ident}", f"  arguments: {_json(call.arguments)}"]
        result = results.get(call.id) if call.id else None
        if result is None:
            entry.append("  result: (none given)")
        else:
            entry.append("  result:")
            entry.append(_indented(_indented(result.text)))
        out.append("\n".join(entry))
    return "\n".join(out)
