"""``evalcli simulate``: attacked copies of a dataset, offline and reproducible.

* :func:`simulate_direct` (UPIA): jailbreak techniques applied to the user turn.
* :func:`simulate_indirect` (XPIA): instructions planted in the documents the app reads.

Both write JSON Lines holding every baseline row (technique ``none``) and, per technique, K
attacked variants tagged ``pair_id``, ``variant_id``, ``technique``, ``template_id``,
``template_version`` and ``converter``, plus a ``<output>.meta.json`` sidecar. Techniques are
templates (:mod:`evalcli.simulate.templates`) and converters
(:mod:`evalcli.simulate.converters`) chained left to right
(:mod:`evalcli.simulate.techniques`). Nothing is sent anywhere, unless either command is
given an attacker model (:mod:`evalcli.simulate.attacker`, step ``model_rewrite``).
"""

from __future__ import annotations

from evalcli.simulate.converters import CONVERTERS, Converter
from evalcli.simulate.direct import simulate_direct
from evalcli.simulate.errors import SimulateError, TechniqueError, TemplateError
from evalcli.simulate.generate import Summary
from evalcli.simulate.indirect import PLACEMENTS, simulate_indirect
from evalcli.simulate.techniques import Technique, parse_techniques
from evalcli.simulate.templates import Template, load_templates

__all__ = [
    "CONVERTERS",
    "PLACEMENTS",
    "Converter",
    "SimulateError",
    "Summary",
    "Technique",
    "TechniqueError",
    "Template",
    "TemplateError",
    "load_templates",
    "parse_techniques",
    "simulate_direct",
    "simulate_indirect",
]
