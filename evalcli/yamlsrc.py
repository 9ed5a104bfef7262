"""YAML loading that remembers where every key and value came from.

pydantic reports errors by location tuples such as ``("evaluators", "bleu", "threshold")``;
:class:`SourceMap` turns those into ``file:line:col`` so users can jump straight to the
problem. Duplicate keys are rejected (PyYAML silently keeps the last one, which hides typos).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from evalcli.errors import ConfigError

Loc = tuple[str | int, ...]


@dataclass
class SourceMap:
    """Positions (1-based line, column) of YAML nodes, keyed by their path in the document."""

    path: Path
    positions: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[Loc, tuple[int, int]] = field(default_factory=dict)

    def where(self, loc: Sequence[str | int], *, key: bool = False) -> str:
        """``file:line:col`` of the closest known ancestor of ``loc`` (or just the file).

        Args:
            loc: Path of the node.
            key: Prefer the position of the mapping *key* (for "unknown key" messages).
        """
        probe: Loc = tuple(loc)
        while True:
            table = self.key_positions if key else self.positions
            pos = table.get(probe) or self.positions.get(probe)
            if pos is not None:
                return f"{self.path}:{pos[0]}:{pos[1]}"
            if not probe:
                return str(self.path)
            probe = probe[:-1]


def dotted(loc: Sequence[str | int]) -> str:
    """A location as users write config keys: ``evaluators.bleu.params``, ``gates[0].max``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def load_yaml(path: Path) -> tuple[Any, SourceMap]:
    """Parse a YAML file into plain Python values plus a :class:`SourceMap`.

    Raises:
        ConfigError: the file is missing, unreadable, or not valid YAML.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError("config file not found", where=str(path)) from None
    except IsADirectoryError:
        raise ConfigError("config path is a directory, not a file", where=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file is not UTF-8 text ({exc.reason})", where=str(path)
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file: {exc.strerror}", where=str(path)) from None
    return parse_yaml(text, path)


# `${data.x}` / `${env:X}` references may appear anywhere in a config, including inside YAML
# flow collections (`headers: {Authorization: Bearer ${env:KEY}}`), where their braces would be
# read as YAML syntax. Each reference is swapped for a brace-free placeholder before parsing and
# swapped back in every parsed string, so users never have to quote them.
_REF_TOKEN = re.compile(r"\$\{[^{}\n]*\}")
_PLACEHOLDER = re.compile("\u27e6(\\d+)\u27e7")


def protect_refs(text: str) -> tuple[str, list[str]]:
    """Replace every ``${...}`` with a placeholder; returns the text and the originals."""
    refs: list[str] = []

    def swap(m: re.Match[str]) -> str:
        refs.append(m.group(0))
        return f"\u27e6{len(refs) - 1}\u27e7"

    return _REF_TOKEN.sub(swap, text), refs


def restore_refs(value: str, refs: list[str]) -> str:
    """Undo :func:`protect_refs` in one parsed string."""
    if "\u27e6" not in value:
        return value
    return _PLACEHOLDER.sub(lambda m: refs[int(m.group(1))], value)


def parse_yaml(text: str, path: Path) -> tuple[Any, SourceMap]:
    """Parse YAML text (see :func:`load_yaml`); ``path`` is used for messages only."""
    smap = SourceMap(path)
    text, refs = protect_refs(text)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"YAML syntax error: {problem}", where=where) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML syntax error: {exc}", where=str(path)) from None
    if node is None:
        return None, smap
    constructor = yaml.SafeLoader("")
    value = _build(node, (), smap, constructor, refs)
    return value, smap


def _build(
    node: yaml.Node, loc: Loc, smap: SourceMap, ctor: yaml.SafeLoader, refs: list[str]
) -> Any:
    smap.positions[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        ctor.flatten_mapping(node)  # resolves YAML merge keys (<<) the way safe_load would
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = ctor.construct_object(key_node, deep=True)
            if isinstance(key, str):
                key = restore_refs(key, refs)
            if not isinstance(key, str | int | float | bool) and key is not None:
                where = f"{smap.path}:{key_node.start_mark.line + 1}"
                raise ConfigError("mapping keys must be plain scalars", where=where)
            child: Loc = (*loc, str(key) if not isinstance(key, str) else key)
            if key in out:
                where = (
                    f"{smap.path}:{key_node.start_mark.line + 1}:{key_node.start_mark.column + 1}"
                )
                raise ConfigError(f"duplicate key {key!r}", where=where)
            smap.key_positions[child] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
            out[key] = _build(value_node, child, smap, ctor, refs)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*loc, i), smap, ctor, refs) for i, item in enumerate(node.value)]
    value = ctor.construct_object(node, deep=True)
    return restore_refs(value, refs) if isinstance(value, str) else value
