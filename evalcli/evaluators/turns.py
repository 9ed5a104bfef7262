"""How the results of a conversation's turns combine into one row result.

An evaluator's :meth:`~evalcli.evaluators.base.Evaluator.combine_turns` decides; the two ways
built in are here. :func:`aggregate_turns` combines key by key from the declared output
roles (numeric scores by mean, max or min, token counts and corpus statistics summed,
pass/fail and severity labels recomputed from the combined score, other values from the last
turn); ``aggregation:`` in a spec forces it. :class:`WorstTurn` keeps the worst turn as a
whole, so that its label, reason and pass/fail agree with its score.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any, Literal

from evalcli.evaluators.declaration import TOKEN_ROLES, OutputField, Outputs, Role

Aggregation = Literal["mean", "max", "min"]

_PICK: dict[str, Callable[[list[float]], float]] = {
    "mean": statistics.fmean,
    "max": max,
    "min": min,
}


def mean_of_turns(fields: Sequence[OutputField], turns: Sequence[Outputs]) -> Outputs:
    """The default combination: :func:`aggregate_turns` with the mean."""
    return aggregate_turns(fields, turns, "mean")


def aggregate_turns(
    fields: Sequence[OutputField], turns: Sequence[Outputs], how: Aggregation
) -> Outputs:
    """Combine per-turn results key by key, as the declared roles say."""
    out: Outputs = dict(turns[-1])
    pick = _PICK[how]
    for f in fields:
        values: list[Any] = [t[f.key] for t in turns if t.get(f.key) is not None]
        if not values:
            continue
        if f.role in TOKEN_ROLES:
            out[f.key] = sum(int(v) for v in values)
        elif f.role is Role.CORPUS_STATS:
            # Each turn is a segment of the corpus: the conversation contributes them all.
            out[f.key] = _summed_stats(values)
        elif f.role in (Role.SCORE, Role.SEVERITY) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values
        ):
            agg = pick([float(v) for v in values])
            out[f.key] = int(agg) if how != "mean" and float(agg).is_integer() else agg
        elif f.role is Role.LABEL and all(isinstance(v, bool) for v in values):
            # A problem in any turn is a problem; "good" labels must hold in every turn.
            out[f.key] = all(values) if f.label_metric == "passing_rate" else any(values)
    _relabel_severities(fields, out)
    _recompute_results(fields, out)
    return out


def _summed_stats(values: list[Any]) -> Any:
    """The turns' statistics summed element by element (the last turn's if they differ)."""
    from evalcli.corpus import add_into, is_stats

    if not all(is_stats(v) and len(v) == len(values[0]) for v in values):
        return values[-1]
    totals: list[float] = [0] * len(values[0])
    for v in values:
        add_into(totals, v)
    return totals


def _relabel_severities(fields: Sequence[OutputField], out: Outputs) -> None:
    """Severity labels follow the combined severity (floored for a mean), not the last turn."""
    for f in fields:
        if f.role is not Role.SEVERITY_LABEL:
            continue
        severity = next(
            (
                out.get(g.key)
                for g in fields
                if g.role is Role.SEVERITY and g.metric_stem == f.metric_stem
            ),
            None,
        )
        if isinstance(severity, int | float) and not isinstance(severity, bool):
            from evalcli.safety.severity import severity_label

            out[f.key] = severity_label(int(severity))


def _recompute_results(fields: Sequence[OutputField], out: Outputs) -> None:
    """Pass/fail follows the combined score and the threshold field of the same subject."""
    for f in fields:
        if f.role is not Role.RESULT:
            continue
        score_field = next(
            (
                g
                for g in fields
                if g.role in (Role.SCORE, Role.SEVERITY) and g.metric_stem == f.metric_stem
            ),
            None,
        )
        threshold_field = next(
            (g for g in fields if g.role is Role.THRESHOLD and g.metric_stem == f.metric_stem),
            None,
        )
        if score_field is None or threshold_field is None:
            continue
        threshold = out.get(threshold_field.key)
        score = out.get(score_field.key)
        if isinstance(threshold, int | float) and isinstance(score, int | float):
            higher = score_field.higher_is_better is not False and score_field.role is Role.SCORE
            ok = score >= threshold if higher else score <= threshold
            out[f.key] = "pass" if ok else "fail"


class WorstTurn:
    """Mixin: the conversation's result is its worst turn, whole (latest among equals).

    Token counts are summed over the turns. Subclasses say how bad a turn is.
    """

    outputs: tuple[OutputField, ...]

    def badness(self, outputs: Outputs) -> float:
        """How bad one turn's result is (higher = worse)."""
        raise NotImplementedError

    def combine_turns(self, turns: Sequence[Outputs]) -> Outputs:
        """The worst turn, with token counts summed over all turns."""
        if not turns:
            raise ValueError("no turns to combine")
        worst = max(range(len(turns)), key=lambda i: (self.badness(turns[i]), i))
        combined = dict(turns[worst])
        for f in self.outputs:
            if f.role in TOKEN_ROLES:
                combined[f.key] = sum(int(t.get(f.key) or 0) for t in turns)
        return combined
