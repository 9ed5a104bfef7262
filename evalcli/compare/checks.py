"""What makes two runs not comparable, or a comparison doubtful: said before comparing."""

from __future__ import annotations

import json
from typing import Any

from evalcli.compare.load import LoadedRun
from evalcli.compare.metrics import MetricDef, recompute

__all__ = [
    "TOLERANCE",
    "consistency_warnings",
    "number",
    "param_warnings",
    "run_mismatches",
    "status_warnings",
]

#: Relative difference below which two floats are the same number.
TOLERANCE = 1e-9


def run_mismatches(base: LoadedRun, cand: LoadedRun) -> list[str]:
    """Why two runs are not comparable: evaluators (alias and ``use``), prompts, judges."""
    reasons: list[str] = []
    b_ev, c_ev = base.evaluators, cand.evaluators
    for alias in sorted(set(b_ev) - set(c_ev)):
        reasons.append(f"evaluator {alias!r} is only in the baseline")
    for alias in sorted(set(c_ev) - set(b_ev)):
        reasons.append(f"evaluator {alias!r} is only in the candidate")
    for alias in [a for a in b_ev if a in c_ev]:
        b, c = b_ev[alias], c_ev[alias]
        if b.get("use") != c.get("use"):
            reasons.append(
                f"evaluator {alias!r} uses {b.get('use')!r} in the baseline and "
                f"{c.get('use')!r} in the candidate"
            )
        if b.get("prompt_sha256") != c.get("prompt_sha256"):
            reasons.append(
                f"evaluator {alias!r}: the prompt differs "
                f"({_digest(b.get('prompt_sha256'))} vs {_digest(c.get('prompt_sha256'))})"
            )
        if b.get("judge") != c.get("judge"):
            reasons.append(
                f"evaluator {alias!r}: the judge differs ({b.get('judge') or 'none'} vs "
                f"{c.get('judge') or 'none'})"
            )
    return reasons


def param_warnings(base: LoadedRun, cand: LoadedRun) -> list[str]:
    """Evaluators whose parameters differ between the runs (compared all the same)."""
    out = []
    for alias, b in base.evaluators.items():
        c = cand.evaluators.get(alias)
        if c is not None and b.get("params") != c.get("params"):
            out.append(
                f"evaluator {alias!r}: parameters differ "
                f"({_compact(b.get('params'))} vs {_compact(c.get('params'))})"
            )
    return out


def status_warnings(run: LoadedRun) -> list[str]:
    """A run that did not complete (its rows may be missing)."""
    if run.status in ("completed", "gate_failed"):
        return []
    return [f"{run.path}: the run did not complete (status {run.status}); rows may be missing"]


def consistency_warnings(run: LoadedRun, defs: dict[str, MetricDef]) -> list[str]:
    """Flag metrics whose recomputation from rows disagrees with what the run recorded."""
    out = []
    for name, defn in defs.items():
        recorded = number(run.metrics.get(name))
        again = recompute(defn, run.rows)
        if (recorded is None) != (again is None) or (
            recorded is not None
            and again is not None
            and abs(recorded - again) > TOLERANCE * max(1.0, abs(recorded))
        ):
            out.append(
                f"{run.path}: {name} recomputed from the rows is {_show(again)} but the run "
                f"recorded {_show(recorded)}; the comparison uses the rows"
            )
    return out


def number(value: Any) -> float | None:
    """A recorded metric as a float; None for null, booleans and anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _digest(value: Any) -> str:
    if isinstance(value, str):
        return value[:12]
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_digest(v)}" for k, v in value.items()) + "}"
    return "none"


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _show(value: float | None) -> str:
    return "none" if value is None else f"{value:.6g}"
