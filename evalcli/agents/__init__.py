"""Agent runs: reading message lists with tool calls, rendering them for rubrics, checking
tool calls against their definitions. Used by the agent evaluators
(:mod:`evalcli.evaluators.agents`)."""

from evalcli.agents.checks import CallFindings, check_calls
from evalcli.agents.render import render_calls, render_definitions, render_run
from evalcli.agents.shapes import (
    Message,
    Run,
    ShapeError,
    ToolCall,
    ToolDefinition,
    link_results,
    parse_run,
    parse_tool_calls,
    parse_tool_definitions,
)

__all__ = [
    "CallFindings",
    "Message",
    "Run",
    "ShapeError",
    "ToolCall",
    "ToolDefinition",
    "check_calls",
    "link_results",
    "parse_run",
    "parse_tool_calls",
    "parse_tool_definitions",
    "render_calls",
    "render_definitions",
    "render_run",
]
