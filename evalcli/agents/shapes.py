"""Reading agent runs: message lists with tool calls and tool results, and tool definitions.

Two message shapes are read, and may be mixed within one list:

* the OpenAI chat format: an assistant message's ``tool_calls`` (``{"id", "type":
  "function", "function": {"name", "arguments"}}``, arguments as a JSON string or an
  object) and ``{"role": "tool", "tool_call_id", "content"}`` results;
* the reference SDK's agent format: ``content`` parts ``{"type": "tool_call",
  "tool_call_id", "name", "arguments"}`` (or ``{"type": "tool_call", "tool_call": {"id",
  "function": {...}}}``) in assistant messages, ``{"type": "tool_result", "tool_result"}``
  parts in tool messages, ``{"type": "text", "text"}`` parts anywhere.

Tool definitions are function schemas: ``{"name", "description", "parameters"}`` (the
reference's form), ``{"type": "function", "function": {...}}`` (the OpenAI ``tools`` form) or
``{"type": "openapi", "functions": [...]}``; one definition may be given without a list.

Anything else is a :class:`ShapeError` whose message names the place (``response[2].
tool_calls[0].function.arguments``) and what is wrong, which evaluators turn into a row error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

ROLES = ("system", "developer", "user", "assistant", "tool")
_TEXT_PARTS = ("text", "input_text", "output_text")
_IMAGE_PARTS = ("image_url", "input_image", "image")


class ShapeError(ValueError):
    """An agent input that has none of the accepted shapes; the message says where and why."""


@dataclass(frozen=True)
class ToolCall:
    """One call of a tool by the assistant.

    Attributes:
        id: The call's id (``None`` when the input gave none; no result can refer to it).
        name: The tool's name.
        arguments: The parsed arguments (a JSON object).
        where: Where the call is in the input, e.g. ``response[1].tool_calls[0]``.
    """

    id: str | None
    name: str
    arguments: dict[str, Any]
    where: str


@dataclass(frozen=True)
class Message:
    """One message of a run, reduced to what a rubric shows.

    Attributes:
        role: ``system``, ``developer``, ``user``, ``assistant`` or ``tool``.
        text: Its text (parts joined; images shown as ``[image]``).
        tool_calls: The calls an assistant message makes.
        call_id: For a tool message, the id of the call it answers.
        where: Where the message is in the input.
    """

    role: str
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    call_id: str | None = None
    where: str = ""


@dataclass(frozen=True)
class Run:
    """A ``query`` or ``response`` input: a plain text, or messages."""

    text: str | None
    messages: tuple[Message, ...] = ()

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        """Every tool call, in order."""
        return tuple(c for m in self.messages for c in m.tool_calls)


@dataclass(frozen=True)
class ToolDefinition:
    """A function tool the agent could call.

    Attributes:
        name: Its name.
        description: What it does ("" when not given).
        parameters: The JSON Schema of its arguments (``None`` when not given).
        where: Where it is in the ``tool_definitions`` input.
    """

    name: str
    description: str
    parameters: Any
    where: str


def _fail(where: str, problem: str) -> NoReturn:
    raise ShapeError(f"{where}: {problem}")


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def parse_run(value: Any, name: str) -> Run:
    """Read a ``query`` or ``response`` input: a string, or a list of messages.

    Raises:
        ShapeError: the value is neither, or a message is malformed.
    """
    if isinstance(value, str):
        return Run(value)
    if not isinstance(value, list):
        _fail(name, f"must be a text or a list of messages, got {_kind(value)}")
    if not value:
        _fail(name, "is an empty list of messages")
    return Run(None, tuple(_message(m, f"{name}[{i}]") for i, m in enumerate(value)))


def _message(raw: Any, where: str) -> Message:
    if not isinstance(raw, Mapping):
        _fail(where, f"a message must be an object with a 'role', got {_kind(raw)}")
    role = raw.get("role")
    if role == "function":
        _fail(where, "role 'function' is the retired form of tool results; use role 'tool'")
    if role not in ROLES:
        _fail(f"{where}.role", f"{role!r} is not a message role ({', '.join(ROLES)})")
    texts, calls = _content(raw.get("content"), role, f"{where}.content")
    tool_calls = raw.get("tool_calls")
    if tool_calls is not None:
        if role != "assistant":
            _fail(f"{where}.tool_calls", f"only assistant messages call tools, not {role}")
        if not isinstance(tool_calls, list):
            _fail(f"{where}.tool_calls", f"must be a list, got {_kind(tool_calls)}")
        calls += [_openai_call(c, f"{where}.tool_calls[{i}]") for i, c in enumerate(tool_calls)]
    call_id = None
    if role == "tool":
        call_id = raw.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            _fail(where, "a tool message needs the 'tool_call_id' of the call it answers")
    return Message(role, "\n".join(texts), tuple(calls), call_id, where)


def _content(content: Any, role: str, where: str) -> tuple[list[str], list[ToolCall]]:
    """The texts and reference-format tool calls of a message's ``content``."""
    if content is None:
        return [], []
    if isinstance(content, str):
        return [content], []
    if isinstance(content, Mapping):  # one part given without a list
        content = [content]
    if not isinstance(content, list):
        _fail(where, f"must be a text or a list of parts, got {_kind(content)}")
    texts: list[str] = []
    calls: list[ToolCall] = []
    for i, part in enumerate(content):
        at = f"{where}[{i}]"
        kind = part.get("type") if isinstance(part, Mapping) else None
        if not isinstance(part, Mapping) or not isinstance(kind, str):
            _fail(at, "a content part must be an object with a 'type'")
        if kind in _TEXT_PARTS:
            text = part.get("text")
            if not isinstance(text, str):
                _fail(f"{at}.text", f"must be a text, got {_kind(text)}")
            texts.append(text)
        elif kind in _IMAGE_PARTS:
            texts.append("[image]")
        elif kind == "tool_call":
            if role != "assistant":
                _fail(at, f"only assistant messages call tools, not {role}")
            nested = part.get("tool_call")
            calls.append(
                _openai_call(nested, f"{at}.tool_call") if nested else _flat_call(part, at)
            )
        elif kind == "tool_result":
            if role != "tool":
                _fail(at, f"a tool_result part belongs in a tool message, not {role}")
            texts.append(_as_text(part.get("tool_result")))
        else:
            _fail(
                f"{at}.type",
                f"unsupported content part {kind!r} (text, image_url, tool_call or tool_result)",
            )
    return texts, calls


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _openai_call(raw: Any, where: str) -> ToolCall:
    if not isinstance(raw, Mapping):
        _fail(where, f"a tool call must be an object, got {_kind(raw)}")
    kind = raw.get("type", "function")
    if kind != "function":
        _fail(f"{where}.type", f"only function tool calls are supported, not {kind!r}")
    function = raw.get("function")
    if not isinstance(function, Mapping):
        _fail(where, "a tool call needs 'function': {name, arguments}")
    return ToolCall(
        _call_id(raw.get("id"), f"{where}.id"),
        _tool_name(function.get("name"), f"{where}.function.name"),
        _arguments(function.get("arguments"), f"{where}.function.arguments"),
        where,
    )


def _flat_call(raw: Mapping[str, Any], where: str) -> ToolCall:
    return ToolCall(
        _call_id(raw.get("tool_call_id", raw.get("id")), f"{where}.tool_call_id"),
        _tool_name(raw.get("name"), f"{where}.name"),
        _arguments(raw.get("arguments"), f"{where}.arguments"),
        where,
    )


def _call_id(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        _fail(where, f"a tool call id must be a non-empty text, got {value!r}")
    return value


def _tool_name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        _fail(where, f"a tool name must be a non-empty text, got {_kind(value)}")
    return value


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def _arguments(value: Any, where: str) -> dict[str, Any]:
    """Arguments as an object: given as one, or as the JSON text of one (OpenAI's form)."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value, parse_constant=_reject_constant)
        except json.JSONDecodeError as exc:
            _fail(where, f"not valid JSON ({exc.msg} at column {exc.colno})")
        except ValueError as exc:
            _fail(where, f"not valid JSON ({exc})")
    if not isinstance(value, dict):
        _fail(where, f"the arguments must be a JSON object, got {_kind(value)}")
    return value


def link_results(*runs: Run, given: tuple[ToolCall, ...] = ()) -> dict[str, Message]:
    """Check that every tool result answers an earlier call; the results by call id.

    The runs are read in order (the query's history, then the response), so a result in the
    response may answer a call made in the query.

    Args:
        given: Calls given apart from the messages (a ``tool_calls`` input); a result may
            answer one of them too.

    Raises:
        ShapeError: a call id is used twice, or a result answers no call.
    """
    known = {c.id for c in given if c.id}
    called: dict[str, ToolCall] = {}
    results: dict[str, Message] = {}
    for run in runs:
        for message in run.messages:
            for call in message.tool_calls:
                if call.id is None:
                    continue
                if call.id in called:
                    first = called[call.id].where
                    _fail(call.where, f"the tool call id {call.id!r} is also used at {first}")
                called[call.id] = call
            if message.role == "tool":
                assert message.call_id is not None  # checked by _message
                if message.call_id not in called and message.call_id not in known:
                    _fail(
                        message.where,
                        f"a tool result for {message.call_id!r}, which no earlier assistant "
                        "message called",
                    )
                if message.call_id in results:
                    first = results[message.call_id].where
                    _fail(message.where, f"a second result for {message.call_id!r} ({first})")
                results[message.call_id] = message
    return results


def parse_tool_calls(value: Any, name: str = "tool_calls") -> tuple[ToolCall, ...]:
    """Read a ``tool_calls`` input: a list of calls (either format), or one call.

    Raises:
        ShapeError: a call is malformed.
    """
    items = [value] if isinstance(value, Mapping) else value
    if not isinstance(items, list):
        _fail(name, f"must be a list of tool calls, got {_kind(value)}")
    calls = []
    for i, raw in enumerate(items):
        where = f"{name}[{i}]"
        if isinstance(raw, Mapping) and raw.get("type") == "tool_call":
            nested = raw.get("tool_call")
            calls.append(
                _openai_call(nested, f"{where}.tool_call") if nested else _flat_call(raw, where)
            )
        else:
            calls.append(_openai_call(raw, where))
    return tuple(calls)


def parse_tool_definitions(
    value: Any, name: str = "tool_definitions"
) -> tuple[ToolDefinition, ...]:
    """Read a ``tool_definitions`` input (see the module docstring for the forms).

    A text holding JSON is read as that JSON (datasets in CSV keep structures as text).

    Raises:
        ShapeError: not a list of function definitions, a definition without a name, a
            ``parameters`` that is not an object, or two definitions of one name.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            _fail(name, "must be a list of function definitions, got a text that is not JSON")
    items = [value] if isinstance(value, Mapping) else value
    if not isinstance(items, list):
        _fail(name, f"must be a list of function definitions, got {_kind(value)}")
    found: list[ToolDefinition] = []
    for i, raw in enumerate(items):
        where = f"{name}[{i}]"
        if isinstance(raw, Mapping) and raw.get("type") == "openapi":
            functions = raw.get("functions")
            if not isinstance(functions, list):
                _fail(f"{where}.functions", "an openapi tool needs a list of 'functions'")
            found += [_definition(f, f"{where}.functions[{j}]") for j, f in enumerate(functions)]
        else:
            found.append(_definition(raw, where))
    seen: dict[str, str] = {}
    for d in found:
        if d.name in seen:
            _fail(d.where, f"the tool {d.name!r} is also defined at {seen[d.name]}")
        seen[d.name] = d.where
    return tuple(found)


def _definition(raw: Any, where: str) -> ToolDefinition:
    if not isinstance(raw, Mapping):
        _fail(where, f"a tool definition must be an object, got {_kind(raw)}")
    if raw.get("type") == "function" and isinstance(raw.get("function"), Mapping):
        raw, where = raw["function"], f"{where}.function"
    description = raw.get("description") or ""
    if not isinstance(description, str):
        _fail(f"{where}.description", f"must be a text, got {_kind(description)}")
    parameters = raw.get("parameters")
    if parameters is not None and not isinstance(parameters, Mapping | bool):
        _fail(f"{where}.parameters", f"must be a JSON Schema object, got {_kind(parameters)}")
    return ToolDefinition(
        _tool_name(raw.get("name"), f"{where}.name"), description, parameters, where
    )
