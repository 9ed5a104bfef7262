"""The one Jinja environment every prompt template is compiled in.

Sandboxed and immutable (templates cannot reach Python internals such as ``__class__`` or
mutate the values they are given), strict about undefined names, no HTML autoescaping.
The environment is shared: compiled templates are thread-safe to render.
"""

from __future__ import annotations

import json
from pathlib import Path

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ._errors import PromptFileError


def _finalize(value: object) -> object:
    """Turn a ``{{ expression }}`` result into the text the judge should see.

    ``None`` (an absent optional input) becomes empty text rather than the word "None", and
    JSON-like containers are written as JSON, which judges read better than Python reprs.
    """
    if value is None:
        return ""
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False)
    return value


ENV = ImmutableSandboxedEnvironment(
    undefined=StrictUndefined,
    autoescape=False,
    trim_blocks=True,  # a line holding only a {% tag %} leaves no blank line behind
    lstrip_blocks=True,
    keep_trailing_newline=False,
    finalize=_finalize,
    auto_reload=False,
)

# Loading other templates would need a loader and would let a prompt read arbitrary files.
_FORBIDDEN_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Include,
    nodes.Extends,
    nodes.Import,
    nodes.FromImport,
)


def compile_section(path: Path, source: str, first_line: int) -> Template:
    """Compile one role section, reporting errors at their line in the prompt file.

    Args:
        path: The prompt file (for error messages).
        source: The section's template text.
        first_line: File line number of the first line of ``source``.

    Raises:
        PromptFileError: On a Jinja syntax error, an unknown filter or test, or a tag that
            would load another template.
    """
    try:
        tree = ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise PromptFileError(
            path, first_line + (exc.lineno or 1) - 1, f"template error: {exc.message}"
        ) from None
    for node in tree.find_all(_FORBIDDEN_NODES):
        raise PromptFileError(
            path,
            first_line + node.lineno - 1,
            "template error: prompt files cannot include, extend or import other templates",
        )
    try:
        return ENV.from_string(source)
    except TemplateSyntaxError as exc:  # unknown filters/tests surface at compile time
        raise PromptFileError(
            path, first_line + (exc.lineno or 1) - 1, f"template error: {exc.message}"
        ) from None
