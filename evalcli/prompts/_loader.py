"""Reading a prompt file: front matter, YAML with line numbers, role sections."""

from __future__ import annotations

import difflib
import hashlib
import re
from pathlib import Path
from typing import Any, cast

import yaml  # type: ignore[import-untyped, unused-ignore]  # stubs are a dev extra

from ._errors import PromptFileError
from ._model import ROLES, PromptFile, Role, Section
from ._schema import FrontMatter, read_front_matter

# A role line holds only the role name and a colon; an optional "#" lets Markdown
# renderers show it as a heading (the Prompty convention).
_ROLE_LINE = re.compile(r"^[ \t]*#?[ \t]*(system|developer|user|assistant)[ \t]*:[ \t]*$", re.I)
_ROLE_LIKE_LINE = re.compile(r"^[ \t]*#?[ \t]*([A-Za-z][A-Za-z0-9_-]*)[ \t]*:[ \t]*$")
_FENCE = "---"


def load_prompt(path: Path) -> PromptFile:
    """Load, validate and compile a prompt file (evalcli or Prompty format).

    Args:
        path: The ``.prompty`` (or any extension) file.

    Returns:
        The compiled prompt.

    Raises:
        PromptFileError: With the file line where possible, when the file is missing or
            unreadable, the front matter is missing, not YAML or invalid, the body has no
            role sections or text outside them, a role is unknown, a section is empty, a
            template has a Jinja syntax error, or the output spec is invalid.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PromptFileError(path, None, "prompt file not found") from None
    except IsADirectoryError:
        raise PromptFileError(path, None, "is a directory, not a prompt file") from None
    except OSError as exc:
        raise PromptFileError(path, None, f"cannot read prompt file: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise PromptFileError(path, line, "prompt file is not valid UTF-8 text") from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")

    front, body_start = _split_front_matter(path, lines)
    fields = read_front_matter(front)  # front matter problems come first: they come earlier
    sections = _split_sections(path, lines[body_start - 1 :], body_start)
    return PromptFile(**fields, sections=sections, sha256=hashlib.sha256(raw).hexdigest())


def _split_front_matter(path: Path, lines: list[str]) -> tuple[FrontMatter, int]:
    """Parse the ``---`` block; return it and the file line where the body starts."""
    if not lines or lines[0].rstrip() != _FENCE:
        raise PromptFileError(
            path, 1, "missing front matter: the file must start with a '---' line"
        )
    close = next((i for i in range(1, len(lines)) if lines[i].rstrip() == _FENCE), None)
    if close is None:
        raise PromptFileError(path, 1, "front matter is not closed: no second '---' line")
    yaml_text = "\n".join(lines[1:close])
    first_yaml_line = 2
    try:
        data = yaml.safe_load(yaml_text)
        node = yaml.compose(yaml_text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = first_yaml_line + mark.line if mark is not None else first_yaml_line
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        detail = f"{problem} ({context})" if context else problem
        raise PromptFileError(path, line, f"invalid YAML in front matter: {detail}") from None
    if not isinstance(data, dict):
        raise PromptFileError(
            path, first_yaml_line, "front matter must be a YAML mapping of keys to values"
        )
    _check_duplicate_keys(path, node, first_yaml_line)
    return FrontMatter(path, cast(dict[str, Any], data), node, first_yaml_line), close + 2


def _check_duplicate_keys(path: Path, node: Any, offset: int) -> None:
    """PyYAML silently keeps the last of two equal keys; treat that as the error it is."""
    if isinstance(node, yaml.MappingNode):
        seen: set[object] = set()
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    raise PromptFileError(
                        path,
                        offset + key_node.start_mark.line,
                        f"duplicate key {key_node.value!r} in front matter",
                    )
                seen.add(key_node.value)
            _check_duplicate_keys(path, value_node, offset)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicate_keys(path, item, offset)


def _split_sections(path: Path, body: list[str], first_line: int) -> tuple[Section, ...]:
    """Cut the raw body into role sections. Nothing is rendered here."""
    sections: list[Section] = []
    role: Role | None = None
    marker_line = 0
    chunk: list[str] = []

    def flush() -> None:
        if role is None:
            return
        start = 0
        while start < len(chunk) and not chunk[start].strip():
            start += 1
        end = len(chunk)
        while end > start and not chunk[end - 1].strip():
            end -= 1
        if start == end:
            raise PromptFileError(path, marker_line, f"the {role!r} section is empty")
        source = "\n".join(chunk[start:end])
        sections.append(Section(role, source, marker_line + 1 + start))

    for offset, text in enumerate(body):
        line_no = first_line + offset
        match = _ROLE_LINE.match(text)
        if match:
            flush()
            role = cast(Role, match.group(1).lower())
            marker_line = line_no
            chunk = []
        elif role is not None:
            chunk.append(text)
        elif text.strip():
            _reject_text_before_roles(path, body, offset, line_no)
    flush()
    if not sections:
        raise PromptFileError(
            path,
            first_line,
            "no message sections: the body needs a 'system:' or 'user:' line before the text",
        )
    return tuple(sections)


def _reject_text_before_roles(path: Path, body: list[str], offset: int, line_no: int) -> None:
    text = body[offset]
    like = _ROLE_LIKE_LINE.match(text)
    known = ", ".join(f"'{r}:'" for r in ROLES)
    if like:
        word = like.group(1)
        close = difflib.get_close_matches(word.lower(), ROLES, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}:'?)" if close else ""
        raise PromptFileError(path, line_no, f"unknown role {word!r}{hint}; roles are {known}")
    if not any(_ROLE_LINE.match(t) for t in body[offset:]):
        raise PromptFileError(
            path,
            line_no,
            f"no message sections: start the body with a role line ({known})",
        )
    raise PromptFileError(
        path, line_no, f"text before the first role line; start the body with one of {known}"
    )
