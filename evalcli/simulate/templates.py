"""Technique templates: YAML files with an id, a version and a placeholder for the payload.

A template is one file::

    id: roleplay                 # letters, digits and _ (used in --technique)
    version: 1                   # bump it whenever the wording changes (quote "2.10")
    kind: direct                 # direct: wraps the user's request; indirect: planted in a document
    name: Role-play              # optional, for listings
    description: ...             # optional
    text: |                      # or `texts:` with several phrasings (variants pick among them)
      ... {{payload}} ...

Placeholders: a *direct* template wraps the attacked user turn and holds ``{{payload}}``, or
the pair ``{{payload_a}}`` / ``{{payload_b}}`` (the request cut in two halves, for payload
splitting). An *indirect* template is the instruction planted in a document and holds
``{{canary}}``, the token the injection asks the application to repeat, so a deterministic
check can tell whether the application obeyed. Any other ``{{name}}`` is refused (a typo
would otherwise reach the model verbatim). Other braces are plain text.

evalcli ships its own templates (``evalcli/simulate/templates/``, our own wording);
``--templates DIR`` adds every ``*.yaml`` / ``*.yml`` file of a directory. An id may be
defined once: a file reusing a shipped or another file's id is an error naming both.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from evalcli.errors import ConfigError
from evalcli.simulate.errors import SimulateError, TemplateError

Kind = Literal["direct", "indirect"]
KINDS: tuple[Kind, ...] = ("direct", "indirect")

BUILTIN_DIR = Path(__file__).resolve().parent / "templates"
BUILTIN_SOURCE = "builtin"

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_PAYLOADS = frozenset({"payload", "payload_a", "payload_b"})
_KNOWN = _PAYLOADS | {"canary"}
_ID = re.compile(r"[a-z0-9][a-z0-9_]*")
_KEYS = ("id", "version", "kind", "name", "description", "text", "texts")
#: Words a template id may not take: the baseline tag and the technique separators' meaning.
RESERVED_IDS = frozenset({"none"})


@dataclass(frozen=True)
class Template:
    """One technique template, validated."""

    id: str
    version: str
    kind: Kind
    texts: tuple[str, ...]
    name: str
    description: str
    source: str  # "builtin" or the file's path
    sha256: str  # of the id, version, kind and texts (what changes the generated prompts)

    def fill(self, index: int, values: Mapping[str, str]) -> str:
        """Text ``index`` with every placeholder replaced by its value."""
        return PLACEHOLDER.sub(lambda m: values[m.group(1)], self.texts[index])

    @property
    def placeholders(self) -> frozenset[str]:
        """Placeholder names used by any of the texts."""
        return frozenset(m.group(1) for t in self.texts for m in PLACEHOLDER.finditer(t))


def load_templates(
    extra_dir: Path | None = None, *, reserved: Iterable[str] = ()
) -> dict[str, Template]:
    """The shipped templates plus those of ``extra_dir``, by id (sorted by id).

    Args:
        extra_dir: A directory of user templates (``--templates``), or None.
        reserved: Names a template id may not take (the converter names).

    Raises:
        TemplateError: a file is invalid (named with its line), or an id is defined twice.
        SimulateError: ``extra_dir`` is not a directory.
    """
    files = sorted(BUILTIN_DIR.glob("*.yaml"))
    sources = dict.fromkeys(files, BUILTIN_SOURCE)
    if extra_dir is not None:
        if not extra_dir.is_dir():
            raise SimulateError("--templates must name a directory", where=str(extra_dir))
        user = sorted([*extra_dir.glob("*.yaml"), *extra_dir.glob("*.yml")])
        files += user
        sources.update({f: str(f) for f in user})
    taken = frozenset(reserved) | RESERVED_IDS
    found: dict[str, Template] = {}
    origin: dict[str, Path] = {}
    for file in files:
        template = _load_file(file, sources[file], taken)
        if template.id in found:
            raise TemplateError(
                f"template id {template.id!r} is already defined by {origin[template.id]}",
                where=str(file),
                hint="give your template another id (copy a shipped one to change it)",
            )
        found[template.id] = template
        origin[template.id] = file
    return dict(sorted(found.items()))


def _load_file(path: Path, source: str, reserved: frozenset[str]) -> Template:
    from evalcli.yamlsrc import parse_yaml

    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TemplateError(f"not UTF-8 text ({exc.reason})", where=str(path)) from None
    except OSError as exc:
        raise TemplateError(f"cannot read the file ({exc.strerror})", where=str(path)) from None
    try:
        data, smap = parse_yaml(text, path)
    except ConfigError as exc:  # YAML syntax error or a duplicate key, already located
        raise TemplateError(exc.message, where=exc.where or str(path)) from None

    def fail(message: str, *loc: str | int, hint: str | None = None) -> TemplateError:
        return TemplateError(message, where=smap.where(loc) if loc else str(path), hint=hint)

    if not isinstance(data, dict):
        raise fail("a template file must be a YAML mapping with id, version, kind and text")
    for key in data:
        if key not in _KEYS:
            raise TemplateError(
                f"unknown key {key!r} (allowed: {', '.join(_KEYS)})",
                where=smap.where((key,), key=True),
            )
    tid = _required_str(data, "id", fail)
    if not _ID.fullmatch(tid):
        raise fail(f"template id {tid!r} may use only lowercase letters, digits and _", "id")
    if tid in reserved:
        raise fail(f"template id {tid!r} is reserved (a converter or the baseline tag)", "id")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int | float | str) or not str(version):
        raise fail("`version` is required: a number or a short text (e.g. 1 or 2.1)", "version")
    kind = data.get("kind")
    if kind not in KINDS:
        raise fail("`kind` must be direct or indirect", "kind" if "kind" in data else "id")
    texts = _texts(data, fail)
    for i, body in enumerate(texts):
        loc: tuple[str | int, ...] = ("text",) if "text" in data else ("texts", i)
        _check_placeholders(body, kind, fail, loc)
    name = data.get("name", tid)
    description = data.get("description", "")
    if not isinstance(name, str) or not isinstance(description, str):
        raise fail("`name` and `description` must be text", "name")
    digest = hashlib.sha256(
        json.dumps([tid, str(version), kind, texts], ensure_ascii=False).encode("utf-8")
    ).hexdigest()
    return Template(tid, str(version), kind, tuple(texts), name, description, source, digest)


def _required_str(data: dict[str, Any], key: str, fail: Any) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise fail(f"`{key}` is required (text)", *((key,) if key in data else ()))
    return value.strip()


def _texts(data: dict[str, Any], fail: Any) -> list[str]:
    if ("text" in data) == ("texts" in data):
        raise fail("give the template's wording as `text` (one) or `texts` (a list), not both")
    if "text" in data:
        if not isinstance(data["text"], str) or not data["text"].strip():
            raise fail("`text` must be non-empty text", "text")
        return [data["text"].rstrip()]
    texts = data["texts"]
    if not isinstance(texts, list) or not texts:
        raise fail("`texts` must be a non-empty list of texts", "texts")
    for i, body in enumerate(texts):
        if not isinstance(body, str) or not body.strip():
            raise fail(f"`texts` item {i + 1} must be non-empty text", "texts", i)
    # Trailing whitespace (the newline a YAML block scalar ends with) is never meaningful.
    return [t.rstrip() for t in texts]


def _check_placeholders(body: str, kind: Kind, fail: Any, loc: tuple[str | int, ...]) -> None:
    used = {m.group(1) for m in PLACEHOLDER.finditer(body)}
    unknown = sorted(used - _KNOWN)
    if unknown:
        raise fail(
            f"unknown placeholder {{{{{unknown[0]}}}}} (known: {{{{payload}}}}, "
            "{{payload_a}}/{{payload_b}}, {{canary}})",
            *loc,
        )
    if kind == "direct":
        if not used & _PAYLOADS:
            raise fail(
                "a direct template needs the placeholder {{payload}} (or {{payload_a}} and "
                "{{payload_b}}), where the attacked request goes",
                *loc,
            )
        if ("payload_a" in used) != ("payload_b" in used):
            raise fail("{{payload_a}} and {{payload_b}} go together (the two halves)", *loc)
        if "canary" in used:
            raise fail("{{canary}} belongs in indirect templates", *loc)
    else:
        if "canary" not in used:
            raise fail(
                "an indirect template needs the placeholder {{canary}}: the token the planted "
                "instruction asks the application to repeat",
                *loc,
            )
        if used & _PAYLOADS:
            raise fail("an indirect template takes no {{payload}}, only {{canary}}", *loc)
