"""Techniques: templates and converters composed left to right (``roleplay+base64``).

A technique is a ``+``-separated chain. Each step is a template id or a converter name and
works on the output of the step before it, as PyRIT applies converters: ``roleplay+base64``
fills the role-play template with the request, then Base64-encodes the whole prompt;
``base64+roleplay`` encodes the request and wraps the encoded text in the role-play template.

* ``simulate direct``: the chain starts from the attacked user turn; templates must be
  direct ones.
* ``simulate indirect``: the chain starts with exactly one indirect template (filled with
  the canary token); the converters after it transform the planted instruction.

``model_rewrite`` (``--attacker-config``, :mod:`evalcli.simulate.attacker`) is a step too: a
chat model rewrites its input into K adversarial texts, variant ``i`` taking rewrite ``i``.
In ``simulate direct`` it may stand alone or in a chain (``model_rewrite+base64``); in
``simulate indirect`` it comes right after the template (``system_notice+model_rewrite``,
then converters if any), because it rewrites the plain instruction holding the canary.

Variants: when a template has several phrasings (``texts:``), the K variants of a row take
them in a seeded random order, each once before any repeats. Randomised converters draw
from a stream keyed by seed, row, technique and variant, so nothing depends on the order in
which rows or techniques are generated.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from evalcli.simulate.converters import CONVERTERS, Converter
from evalcli.simulate.errors import TechniqueError
from evalcli.simulate.stream import Stream
from evalcli.simulate.templates import Kind, Template, load_templates

BASELINE = "none"
#: The step name of model-driven rewrites (needs ``--attacker-config``).
MODEL_REWRITE = "model_rewrite"


class Rewriter(Protocol):
    """A step whose output comes from a model (:class:`evalcli.simulate.attacker.ModelRewrite`)."""

    id: str
    version: str

    def rewrite(self, text: str, variant: int) -> str:
        """Rewrite number ``variant`` (0-based) of ``text``."""

    def describe(self) -> dict[str, Any]:
        """What the sidecar records about it."""


Step = Template | Converter | Rewriter


@dataclass(frozen=True)
class Technique:
    """A parsed chain of steps (each a :class:`Template` or a :class:`Converter`)."""

    spec: str
    steps: tuple[Step, ...]

    @property
    def templates(self) -> list[Template]:
        """The templates of the chain, in order."""
        return [s for s in self.steps if isinstance(s, Template)]

    @property
    def converters(self) -> list[Converter]:
        """The converters of the chain, in order."""
        return [s for s in self.steps if isinstance(s, Converter)]

    @property
    def rewriters(self) -> list[Rewriter]:
        """The model-driven steps of the chain."""
        return [s for s in self.steps if not isinstance(s, Template | Converter)]

    def tags(self) -> dict[str, str | None]:
        """The columns every generated row carries about its technique."""
        # A model rewrite is tagged like a template: its id and its prompt's version.
        named = [s for s in self.steps if not isinstance(s, Converter)]
        converters = self.converters
        return {
            "technique": self.spec,
            "template_id": "+".join(t.id for t in named) or None,
            "template_version": "+".join(t.version for t in named) or None,
            "converter": "+".join(c.name for c in converters) or None,
        }

    def apply(self, start: str, key: Sequence[object], variant: int) -> str:
        """Run the chain on ``start`` for variant ``variant`` (0-based) of a row.

        Args:
            start: The attacked request (direct) or the canary token (indirect).
            key: The seed and what identifies the row, e.g. ``(seed, pair_id)``.
            variant: Which of the row's K variants this is.
        """
        stream = Stream(*key, self.spec, variant)
        text = start
        for position, step in enumerate(self.steps):
            if isinstance(step, Converter):
                text = step.encode(text, stream)
                continue
            if not isinstance(step, Template):
                text = step.rewrite(text, variant)
                continue
            # The phrasings are dealt in a random order per (row, technique, step): the K
            # variants of a row use different phrasings as long as there are enough.
            order = Stream(*key, self.spec, "texts", position).permutation(len(step.texts))
            index = order[variant % len(order)]
            if step.kind == "indirect":
                text = step.fill(index, {"canary": text})
            else:
                half_a, half_b = split_in_two(text)
                text = step.fill(index, {"payload": text, "payload_a": half_a, "payload_b": half_b})
        return text


def load_techniques(
    values: Iterable[str],
    templates_dir: Path | None,
    kind: Kind,
    rewriter: Rewriter | None = None,
) -> list[Technique]:
    """Load the templates (shipped and ``templates_dir``) and parse ``--technique`` values."""
    templates = load_templates(templates_dir, reserved=CONVERTERS)
    return parse_techniques(values, templates, kind, rewriter)


def check_counts(seed: int, per_row: int) -> None:
    """Refuse a negative seed or fewer than one variant per row."""
    if per_row < 1:
        raise TechniqueError(f"--per-row must be at least 1, got {per_row}")
    if seed < 0:
        raise TechniqueError(f"--seed must be a non-negative integer, got {seed}")


def split_in_two(text: str) -> tuple[str, str]:
    """Cut a request at the space nearest its middle (mid-word when it has no space)."""
    middle = len(text) // 2
    spaces = [i for i, c in enumerate(text) if c == " "]
    if not spaces:
        return text[:middle], text[middle:]
    cut = min(spaces, key=lambda i: (abs(i - middle), i))
    return text[:cut], text[cut + 1 :]


def parse_techniques(
    values: Iterable[str],
    templates: Mapping[str, Template],
    kind: Kind,
    rewriter: Rewriter | None = None,
) -> list[Technique]:
    """Technique chains from ``--technique`` values (each may list several, comma-separated).

    Without any value, every template of ``kind`` alone. Duplicates are dropped. With a
    ``rewriter`` (``--attacker-config``) and no chain using it, ``model_rewrite`` is added:
    alone (direct), or after each template the chains start with (indirect:
    ``system_notice`` gives ``system_notice+model_rewrite``).

    Raises:
        TechniqueError: an unknown step (with the closest names), a template of the other
            kind, or (indirect) a chain that does not start with exactly one template.
    """
    specs: list[str] = []
    for value in values:
        for item in value.split(","):
            spec = "+".join(part.strip() for part in item.split("+"))
            if not item.strip():
                continue
            if spec not in specs:
                specs.append(spec)
    if not specs:
        specs = [t.id for t in templates.values() if t.kind == kind]
        if not specs:
            raise TechniqueError(f"no {kind} templates are available")
    if rewriter is not None and not any(MODEL_REWRITE in s.split("+") for s in specs):
        specs += _model_rewrite_specs(specs, kind)
    return [_parse_one(spec, templates, kind, rewriter) for spec in specs]


def _model_rewrite_specs(specs: Sequence[str], kind: Kind) -> list[str]:
    """The chains ``--attacker-config`` adds when none names ``model_rewrite``."""
    if kind == "direct":
        return [MODEL_REWRITE]
    # Indirect: the model needs an instruction to rewrite, so it follows each template
    # given (a bad first step is left for _parse_one to report).
    firsts = dict.fromkeys(spec.split("+")[0] for spec in specs)
    return [f"{first}+{MODEL_REWRITE}" for first in firsts]


def _parse_one(
    spec: str, templates: Mapping[str, Template], kind: Kind, rewriter: Rewriter | None
) -> Technique:
    steps: list[Step] = []
    for part in spec.split("+"):
        if not part:
            raise TechniqueError(f"--technique {spec!r} has an empty step (a stray '+')")
        if part == MODEL_REWRITE:
            if kind == "indirect" and len(steps) != 1:
                raise TechniqueError(
                    f"--technique {spec!r}: in `simulate indirect`, {MODEL_REWRITE} rewrites "
                    "the instruction a template wrote, so it comes right after the template "
                    "(e.g. system_notice+model_rewrite, or system_notice+model_rewrite+base64)"
                )
            if rewriter is None:
                raise TechniqueError(
                    f"--technique {spec!r}: {MODEL_REWRITE} needs --attacker-config FILE "
                    "(the chat model that writes the rewrites)"
                )
            steps.append(rewriter)
            continue
        if part == BASELINE:
            raise TechniqueError(
                f"--technique {spec!r}: {BASELINE!r} is the tag of the baseline rows, which "
                "are always included"
            )
        if part in CONVERTERS:
            steps.append(CONVERTERS[part])
            continue
        template = templates.get(part)
        if template is None:
            raise TechniqueError(
                f"unknown technique step {part!r} in --technique {spec!r}",
                hint=_unknown_hint(part, templates, kind),
            )
        if template.kind != kind:
            raise TechniqueError(
                f"--technique {spec!r}: {part!r} is a {template.kind} template; "
                f"`simulate {kind}` takes {kind} templates",
                hint=_names_hint(templates, kind),
            )
        steps.append(template)
    technique = Technique(spec, tuple(steps))
    if kind == "indirect":
        count = len(technique.templates)
        if count != 1 or not isinstance(steps[0], Template):
            raise TechniqueError(
                f"--technique {spec!r}: an indirect technique is one injection template "
                "followed by converters (e.g. system_notice+base64)",
                hint=_names_hint(templates, kind),
            )
    return technique


def _names_hint(templates: Mapping[str, Template], kind: Kind) -> str:
    names = [t.id for t in templates.values() if t.kind == kind]
    return f"{kind} templates: {', '.join(names)}; converters: {', '.join(CONVERTERS)}"


def _unknown_hint(part: str, templates: Mapping[str, Template], kind: Kind) -> str:
    close = difflib.get_close_matches(part, [*templates, *CONVERTERS], n=3, cutoff=0.6)
    lead = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    return lead + _names_hint(templates, kind) + " (evalcli simulate techniques lists them)"
