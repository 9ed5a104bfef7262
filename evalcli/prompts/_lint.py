"""Static checks of a loaded prompt: declared inputs versus variables the template uses."""

from __future__ import annotations

import difflib
import re

from jinja2 import meta, nodes

from ._jinja import ENV
from ._model import ROLES, LintProblem, PromptFile

_ROLE_LIKE_LINE = re.compile(r"^[ \t]*#?[ \t]*([A-Za-z][A-Za-z0-9_-]*)[ \t]*:[ \t]*$")


def used_variables(prompt: PromptFile) -> dict[str, int]:
    """Names the template reads from its inputs, each with the file line of first use.

    Names the template defines itself (``{% set %}``, loop variables) and Jinja globals
    (``range``, ``dict``...) are not inputs and are left out.
    """
    first_use: dict[str, int] = {}
    for section in prompt.sections:
        tree = ENV.parse(section.source)
        free = meta.find_undeclared_variables(tree)
        for node in tree.find_all(nodes.Name):
            if node.ctx == "load" and node.name in free:
                line = section.line + node.lineno - 1
                if node.name not in first_use or line < first_use[node.name]:
                    first_use[node.name] = line
    return first_use


def lint(prompt: PromptFile) -> list[LintProblem]:
    """Check a prompt for problems that make an evaluator spec invalid.

    Reports: declared inputs the template never uses; variables the template uses that are
    not declared; lines that look like a misspelt role marker (``usr:``), which would
    silently stay inside the previous message; and likely typos of front matter keys in
    Prompty files.

    Args:
        prompt: A loaded prompt.

    Returns:
        Problems sorted by line; empty when the prompt is clean.
    """
    problems = list(prompt.load_warnings)
    used = used_variables(prompt)
    for name, line in used.items():
        if name not in prompt.inputs and name not in ENV.globals:
            problems.append(
                LintProblem(f"variable {name!r} is used but not declared under 'inputs'", line)
            )
    for name, decl in prompt.inputs.items():
        if name not in used:
            problems.append(
                LintProblem(f"input {name!r} is declared but never used in the template", decl.line)
            )
    for section in prompt.sections:
        for offset, text in enumerate(section.source.split("\n")):
            match = _ROLE_LIKE_LINE.match(text)
            if not match or match.group(1).lower() in ROLES:
                continue
            close = difflib.get_close_matches(match.group(1).lower(), ROLES, n=1, cutoff=0.8)
            if close:
                problems.append(
                    LintProblem(
                        f"{text.strip()!r} looks like a misspelt role line (did you mean "
                        f"'{close[0]}:'?); as written it stays inside the {section.role} message",
                        section.line + offset,
                    )
                )
    problems.sort(key=lambda p: (p.line is None, p.line or 0))
    return problems
