"""Run-level metrics computed incrementally from row outcomes.

Means and rates cover *scored* rows only; failed (row, evaluator) pairs are counted in
``<alias>.error_count`` and never averaged in or counted as failures (the reference SDK
silently divides by all rows — we don't). Corpus metrics (outputs of role ``CORPUS_STATS``)
sum the scored rows' statistics in input order and hand the totals to the evaluator's
reducer (see :mod:`evalcli.corpus`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from evalcli.corpus import add_into, is_stats
from evalcli.errors import RowError
from evalcli.evaluators.base import Evaluator, Role
from evalcli.evaluators.declaration import TOKEN_ROLES
from evalcli.metric_specs import LABEL_RATE_KINDS, MetricSpec, field_specs
from evalcli.metric_specs import metric_specs as metric_specs  # re-exported (was defined here)
from evalcli.results import (
    EvaluatorSummary,
    MetricInfo,
    Outcome,
    PartialOutcome,
    Scale,
)


@dataclass
class _EvalAgg:
    evaluator: Evaluator
    specs: list[MetricSpec]
    by_key: dict[str, list[MetricSpec]]
    scored: int = 0
    errors: int = 0
    pairs: int = 0
    token_keys: dict[str, str] = field(default_factory=dict)  # output key -> usage counter
    tokens: dict[str, int] = field(default_factory=dict)  # usage counter -> total
    # Severity labels: the label field's subject (stem) -> count per label.
    distributions: dict[str, Counter[str]] = field(default_factory=dict)
    distribution_of: dict[str, str] = field(default_factory=dict)  # label key -> subject
    # Subject (stem) -> the output key of its THRESHOLD field (declared, or learned).
    threshold_keys: dict[str, str] = field(default_factory=dict)
    n_members: int = 1  # evaluations per row: a composite's members count one each


class Aggregator:
    """Accumulates outcomes (one call per (row, evaluator)) into run metrics."""

    def __init__(self, evaluators: list[Evaluator], has_target: bool = False):
        self.has_target = has_target
        self.target_calls = 0
        self.target_errors = 0
        self._aggs: dict[str, _EvalAgg] = {}
        for ev in evaluators:
            specs = metric_specs(ev)
            if ev.open_outputs:
                # Keys known only at run time: every metric but error_count is learned from
                # the values seen (see _learn), so none is reported empty for a key that
                # never came (a scalar layout declared for a callable that returns dicts).
                specs = specs[-1:]
            by_key: dict[str, list[MetricSpec]] = {}
            for s in specs:
                if s.source is not None:
                    by_key.setdefault(s.source.key, []).append(s)
            tokens = {f.key: str(f.role) for f in ev.outputs if f.role in TOKEN_ROLES}
            agg = _EvalAgg(ev, specs, by_key, token_keys=tokens, n_members=len(ev.members) or 1)
            for f in ev.outputs:
                if f.role is Role.THRESHOLD:
                    agg.threshold_keys.setdefault(f.metric_stem, f.key)
                if f.role is Role.SEVERITY_LABEL:
                    agg.distributions[f.metric_stem] = Counter()
                    agg.distribution_of[f.key] = f.metric_stem
            self._aggs[ev.alias] = agg

    def add(self, alias: str, outcome: Outcome) -> None:
        """Account for one (row, evaluator) outcome."""
        # Called for every (row, evaluator) in the process that also feeds the workers:
        # what does not change between rows is looked up once, in __init__.
        agg = self._aggs[alias]
        n_members = agg.n_members
        if isinstance(outcome, RowError):
            agg.errors += n_members
            agg.pairs += n_members
            agg.specs[-1].hits += n_members  # error_count is always last
            self._add_tokens(agg, outcome.extra)
            return
        if isinstance(outcome, PartialOutcome) and outcome.member_errors:
            failed = len(outcome.member_errors)
            agg.errors += failed
            agg.specs[-1].hits += failed
        agg.pairs += n_members
        agg.scored += 1
        if agg.token_keys:
            self._add_tokens(agg, outcome)
        learns = agg.evaluator.open_outputs
        by_key, distribution_of = agg.by_key, agg.distribution_of
        for key, value in outcome.items():
            specs = by_key.get(key)
            if specs is None and learns:
                specs = self._learn(agg, key, value)
            if specs:
                for s in specs:
                    s.add(value)
                    if s.reducer is not None and is_stats(value):
                        s.reducer.observe(outcome)
            if distribution_of:
                subject = distribution_of.get(key)
                if subject is not None and isinstance(value, str):
                    agg.distributions[subject][value] += 1

    @staticmethod
    def _learn(agg: _EvalAgg, key: str, value: Any) -> list[MetricSpec] | None:
        """Add the metrics of a key first seen now; rows arrive in input order, so the
        metrics of a run appear in the same order every time."""
        for f in agg.evaluator.runtime_fields(key, value):
            if f.role is Role.THRESHOLD:
                agg.threshold_keys.setdefault(f.metric_stem, f.key)
            new = field_specs(agg.evaluator.alias, f)
            agg.specs[-1:-1] = new  # error_count stays last
            for s in new:
                agg.by_key.setdefault(f.key, []).append(s)
        return agg.by_key.get(key)

    @staticmethod
    def _add_tokens(agg: _EvalAgg, values: dict[str, Any]) -> None:
        for key, counter in agg.token_keys.items():
            v = values.get(key)
            if isinstance(v, int):
                agg.tokens[counter] = agg.tokens.get(counter, 0) + v

    def add_target(self, failed: bool) -> None:
        """Account for one target call (a failed call counts as an error like any other)."""
        self.target_calls += 1
        self.target_errors += failed

    @property
    def total_errors(self) -> int:
        """Failed evaluations and target calls so far (composite members count one each)."""
        return sum(a.errors for a in self._aggs.values()) + self.target_errors

    @property
    def total_pairs(self) -> int:
        """Evaluations and target calls accounted so far (composite members count one each)."""
        return sum(a.pairs for a in self._aggs.values()) + self.target_calls

    def token_usage(self) -> dict[str, dict[str, int]]:
        """Token totals per alias: ``{alias: {prompt_tokens, completion_tokens}}``."""
        out: dict[str, dict[str, int]] = {}
        for alias, a in self._aggs.items():
            if not a.token_keys:
                continue
            out[alias] = {
                "prompt_tokens": a.tokens.get("prompt_tokens", 0),
                "completion_tokens": a.tokens.get("completion_tokens", 0),
            }
        return out

    def metrics(self) -> dict[str, float | None]:
        """``<alias>.<key>`` -> value (None when no row was scored)."""
        out = {s.name: s.value for a in self._aggs.values() for s in a.specs}
        if self.has_target:
            out["target.error_count"] = self.target_errors
        return out

    def metric_info(self) -> dict[str, MetricInfo]:
        """Meaning, direction, subject, threshold key and scale of every metric, all from
        the evaluators' declared (or, for open outputs, learned) output fields."""
        target = (
            {
                "target.error_count": MetricInfo(
                    evaluator="target", kind="error_count", direction="lower"
                )
            }
            if self.has_target
            else {}
        )
        return target | {
            s.name: _info(alias, a, s) for alias, a in self._aggs.items() for s in a.specs
        }

    def summaries(self) -> list[EvaluatorSummary]:
        """Per-alias numbers for the console table."""
        out = []
        for alias, a in self._aggs.items():
            headline = next((s for s in a.specs if s.kind == "mean"), None)
            passed = next(
                (s for s in a.specs if s.kind == "pass_rate" and s.name == f"{alias}.pass_rate"),
                None,
            )
            extra: dict[str, Any] = {}
            for s in a.specs:
                rate = s.kind in LABEL_RATE_KINDS
                if rate or (s.kind == "pass_rate" and s is not passed):
                    extra[s.name.removeprefix(alias + ".")] = s.value
            for subject, dist in a.distributions.items():
                extra[f"{subject}_distribution"] = dict(dist)
            out.append(
                EvaluatorSummary(
                    alias=alias,
                    use=a.evaluator.name,
                    family=a.evaluator.family,
                    scored=a.scored,
                    errors=a.errors,
                    headline_key=headline.source.key if headline and headline.source else None,
                    mean=headline.value if headline else None,
                    pass_rate=passed.value if passed else None,
                    extra=extra,
                )
            )
        return out

    # -- partial aggregators (the Spark engine: one per task, added up on the driver) -------

    def state(self) -> dict[str, Any]:
        """Everything this aggregator counted, picklable, for :meth:`merge`.

        A metric's sums travel as they are (means stay exact to the last bits but for the
        order of float additions); a corpus reducer travels when it can ``merge`` what it
        observed (sacrebleu's reference counts).
        """
        return {
            "target": (self.target_calls, self.target_errors),
            "aggs": {
                alias: {
                    "scored": a.scored,
                    "errors": a.errors,
                    "pairs": a.pairs,
                    "tokens": dict(a.tokens),
                    "distributions": {k: dict(v) for k, v in a.distributions.items()},
                    "threshold_keys": dict(a.threshold_keys),
                    "specs": [
                        (
                            s.name,
                            s.kind,
                            s.source,
                            s.higher_is_better,
                            s.hits,
                            s.count,
                            s.totals,
                            s.mixed,
                            s.reducer if hasattr(s.reducer, "merge") else None,
                        )
                        for s in a.specs
                    ],
                }
                for alias, a in self._aggs.items()
            },
        }

    def merge(self, state: dict[str, Any]) -> None:
        """Add another aggregator's :meth:`state`. States merged in input order (the rows of
        the first one come first) give the metrics, in the order, of one aggregator that saw
        every row: a metric learned at run time is placed where its first row puts it."""
        calls, errors = state["target"]
        self.target_calls += calls
        self.target_errors += errors
        for alias, part in state["aggs"].items():
            agg = self._aggs[alias]
            agg.scored += part["scored"]
            agg.errors += part["errors"]
            agg.pairs += part["pairs"]
            for counter, n in part["tokens"].items():
                agg.tokens[counter] = agg.tokens.get(counter, 0) + n
            for subject, dist in part["distributions"].items():
                agg.distributions.setdefault(subject, Counter()).update(dist)
            for stem, key in part["threshold_keys"].items():
                agg.threshold_keys.setdefault(stem, key)
            known = {s.name: s for s in agg.specs}
            for name, kind, source, hib, hits, count, totals, mixed, reducer in part["specs"]:
                spec = known.get(name)
                if spec is None:  # learned at run time by that part: add it as _learn does
                    spec = MetricSpec(name, kind, source, hib)
                    if kind == "corpus" and source is not None:
                        spec.reducer = agg.evaluator.corpus_reducer(source.key)
                    agg.specs[-1:-1] = [spec]
                    if source is not None:
                        agg.by_key.setdefault(source.key, []).append(spec)
                    known[name] = spec
                spec.hits += hits
                spec.count += count
                spec.mixed = spec.mixed or mixed
                if totals is not None:
                    if spec.totals is None:
                        spec.totals = list(totals)
                    elif len(totals) != len(spec.totals):
                        spec.mixed = True
                    else:
                        add_into(spec.totals, totals)
                merge = getattr(spec.reducer, "merge", None)
                if reducer is not None and merge is not None:
                    merge(reducer)


def _info(alias: str, agg: _EvalAgg, s: MetricSpec) -> MetricInfo:
    """The ``metric_info`` entry of one metric of the evaluator aliased ``alias``."""
    f = s.source
    threshold_key = scale = None
    if f is not None and s.kind in ("mean", "pass_rate"):
        # The key a row's pass/fail compares with: the THRESHOLD field of the same subject.
        threshold_key = agg.threshold_keys.get(f.metric_stem)
    if f is not None and s.kind == "mean" and f.range is not None:
        scale = Scale(min=f.range[0], max=f.range[1], integer=f.integer)
    return MetricInfo(
        evaluator=alias,
        kind=s.kind,
        direction="higher" if s.higher_is_better else "lower",
        source_key=f.key if f is not None else None,
        defect_threshold=f.defect_threshold if f is not None and s.kind == "defect_rate" else None,
        subject=f.metric_stem if f is not None else None,
        threshold_key=threshold_key,
        scale=scale,
        corpus=s.reducer.describe() if s.reducer is not None else None,
    )
