"""Column mapping: ``${data.<path>}`` and ``${target.<path>}`` expressions.

Resolution order for an evaluator input: the evaluator's own ``columns``, then the run-level
``columns``, then a column with the input's own name. Paths are dotted and may index lists
(``${data.messages.1.content}``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from evalcli.dataset import MISSING, lookup

_REF = re.compile(r"^\$\{(data|target)((?:\.[^.{}\s]+)*)\}$")
_EMBEDDED = re.compile(r"\$\{(data|target)((?:\.[^.{}\s]+)*)\}")

Source = Literal["data", "target"]


@dataclass(frozen=True, slots=True)
class Ref:
    """A parsed mapping expression."""

    source: Source
    path: tuple[str, ...]
    implicit: bool = False

    @property
    def text(self) -> str:
        """The expression as a user would write it."""
        return "${" + ".".join((self.source, *self.path)) + "}"

    def resolve(self, data: dict[str, Any], target: dict[str, Any] | None) -> Any:
        """The value in the row (or target output), or MISSING."""
        if self.source == "target":
            return MISSING if target is None else lookup(target, self.path)
        return lookup(data, self.path)


def parse_ref(expr: str) -> Ref | None:
    """Parse ``${data.x}`` / ``${target.x}``; None if ``expr`` is not such an expression."""
    m = _REF.match(expr.strip())
    if not m:
        return None
    path = tuple(p for p in m.group(2).split(".") if p)
    if not path and m.group(1) == "target":
        return None
    source: Source = "data" if m.group(1) == "data" else "target"
    return Ref(source, path)


def find_refs(template: str) -> list[Ref]:
    """All ``${data.x}``/``${target.x}`` expressions embedded in a longer string."""
    out = []
    for m in _EMBEDDED.finditer(template):
        path = tuple(p for p in m.group(2).split(".") if p)
        out.append(Ref("data" if m.group(1) == "data" else "target", path))
    return out


def substitute(template: str, data: dict[str, Any], target: dict[str, Any] | None) -> str | Any:
    """Fill embedded references; a template that is exactly one reference keeps the value's type.

    Raises:
        KeyError: a reference does not resolve (the message is the expression).
    """
    whole = parse_ref(template)
    if whole is not None:
        value = whole.resolve(data, target)
        if value is MISSING:
            raise KeyError(whole.text)
        return value

    def repl(m: re.Match[str]) -> str:
        ref = Ref(
            "data" if m.group(1) == "data" else "target",
            tuple(p for p in m.group(2).split(".") if p),
        )
        value = ref.resolve(data, target)
        if value is MISSING:
            raise KeyError(ref.text)
        return value if isinstance(value, str) else _to_text(value)

    return _EMBEDDED.sub(repl, template)


def _to_text(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)
