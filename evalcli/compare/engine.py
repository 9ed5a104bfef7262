"""Comparing two runs (or the variants of one run) metric by metric, on paired rows.

The rows are paired by :mod:`evalcli.compare.pairing`; what makes runs not comparable, or a
comparison doubtful, is found by :mod:`evalcli.compare.checks`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalcli.compare.checks import (
    TOLERANCE,
    consistency_warnings,
    number,
    param_warnings,
    run_mismatches,
    status_warnings,
)
from evalcli.compare.corpus import compare_corpus
from evalcli.compare.load import CompareError, RunMismatchError, load_run
from evalcli.compare.metrics import MetricDef, mean, metric_defs, recompute
from evalcli.compare.model import (
    Comparison,
    McNemar,
    MetricComparison,
    Pairing,
    Report,
    Settings,
    Verdict,
    rule_text,
)
from evalcli.compare.pairing import (
    input_column,
    pairing_key,
    resolve_id_column,
    row_index,
    row_line,
)
from evalcli.compare.stats import Interval, mcnemar_exact_p, paired_bootstrap
from evalcli.reporters.terminal import plural

Row = dict[str, Any]


@dataclass(frozen=True)
class CompareOptions:
    """Statistical and pairing settings shared by both comparison modes.

    Args:
        resamples: Bootstrap resamples.
        seed: Bootstrap seed (same inputs and seed, same intervals).
        confidence: Interval coverage.
        alpha: McNemar significance level.
        min_effect: Smallest worsening (in metric units; 0.05 = 5 points of a rate) that
            counts as a regression.
        id_column: Column that matches rows of two runs (``id``, ``inputs.id`` or ``line``);
            default ``inputs.id`` when every row of both runs has a unique one, else ``line``.
        allow_mismatch: Compare runs whose evaluators, prompts or judges differ (warning).
    """

    resamples: int = 2000
    seed: int = 0
    confidence: float = 0.95
    alpha: float = 0.05
    min_effect: float = 0.0
    id_column: str | None = None
    allow_mismatch: bool = False

    def settings(self) -> Settings:
        """The settings as recorded in the report."""
        return Settings(
            resamples=self.resamples,
            seed=self.seed,
            confidence=self.confidence,
            alpha=self.alpha,
            min_effect=self.min_effect,
            rule=rule_text(self.confidence, self.alpha),
        )


def compare_runs(baseline: Path, candidate: Path, options: CompareOptions | None = None) -> Report:
    """Compare two runs row by row (paired by id) and metric by metric.

    Raises:
        CompareError: a file cannot be used, or rows cannot be paired.
        RunMismatchError: the runs were configured differently and mismatches are not allowed.
    """
    opts = options or CompareOptions()
    base, cand = load_run(baseline), load_run(candidate)
    warnings = [w for run in (base, cand) for w in status_warnings(run)]
    mismatches = run_mismatches(base, cand)
    if mismatches and not opts.allow_mismatch:
        raise RunMismatchError(
            "the runs are not comparable: " + "; ".join(mismatches),
            where=f"{base.path} vs {cand.path}",
            hint="pass --allow-mismatch to compare the metrics they have in common anyway",
        )
    warnings += [f"mismatch: {m}" for m in mismatches]
    warnings += param_warnings(base, cand)

    base_defs, base_skipped = metric_defs(base)
    cand_defs, cand_skipped = metric_defs(cand)
    names: list[str] = []
    for name, bdef in base_defs.items():
        cdef = cand_defs.get(name)
        if cdef is None:
            continue
        if not bdef.same_meaning(cdef):
            warnings.append(f"{name} is defined differently in the two runs; not compared")
            continue
        if bdef.defect_threshold != cdef.defect_threshold:
            warnings.append(
                f"{name}: defect threshold {bdef.defect_threshold:g} in the baseline, "
                f"{cdef.defect_threshold:g} in the candidate"
            )
        names.append(name)
    only = sorted((set(base_defs) ^ set(cand_defs)) - set(base_skipped) - set(cand_skipped))
    if only:
        warnings.append("metrics in only one run, not compared: " + ", ".join(only))
    skipped = sorted(set(base_skipped) | set(cand_skipped))
    if skipped:
        warnings.append("metrics that cannot be recomputed from rows: " + ", ".join(skipped))
    for run, defs in ((base, base_defs), (cand, cand_defs)):
        warnings += consistency_warnings(run, defs)

    column, id_warnings = resolve_id_column(opts.id_column, base, cand)
    warnings += id_warnings
    base_ids, cand_ids = row_index(base, column), row_index(cand, column)
    paired = [k for k in base_ids if k in cand_ids]
    unmatched_b = len(base_ids) - len(paired)
    unmatched_c = len(cand_ids) - len(paired)
    if unmatched_b or unmatched_c:
        warnings.append(
            f"{plural(unmatched_b, 'row')} only in the baseline and {unmatched_c} only in the "
            f"candidate (matched by {column}) are left out"
        )
    if not paired:
        raise CompareError(
            f"no row of the baseline matches a row of the candidate by {column}",
            where=f"{base.path} vs {cand.path}",
            hint="choose the matching column with --id-column",
        )
    overall = {n: (number(base.metrics.get(n)), number(cand.metrics.get(n))) for n in names}
    comparison = compare_rows(
        [base.rows[base_ids[k]] for k in paired],
        [cand.rows[cand_ids[k]] for k in paired],
        [(base_defs[n], cand_defs[n]) for n in names],
        overall,
        opts,
        labels=(base.name, cand.name),
        pairing=Pairing(
            by=column,
            paired=len(paired),
            unmatched_baseline=unmatched_b,
            unmatched_candidate=unmatched_c,
        ),
    )
    return Report(
        mode="runs",
        baseline_file=str(base.path),
        candidate_file=str(cand.path),
        settings=opts.settings(),
        comparisons=[comparison],
        mismatches=mismatches,
        warnings=warnings,
        regressions=[m.metric for m in comparison.metrics if m.regression],
    )


def compare_variants(
    results: Path,
    *,
    pair_by: str,
    variant_column: str,
    baseline_variant: str | None = None,
    options: CompareOptions | None = None,
) -> Report:
    """Counterfactual check inside one run: each variant against the baseline variant.

    Rows are grouped into pairs by ``inputs.<pair_by>``; ``inputs.<variant_column>`` names the
    variant of each row. The baseline variant is ``baseline_variant`` or the first variant in
    sorted order. Pairs lacking one of the two compared variants are left out (counted).

    Raises:
        CompareError: the file cannot be used, a column is missing, or a pair holds the same
            variant twice.
    """
    opts = options or CompareOptions()
    run = load_run(results)
    warnings = list(status_warnings(run))
    defs, skipped = metric_defs(run)
    if skipped:
        warnings.append("metrics that cannot be recomputed from rows: " + ", ".join(skipped))
    warnings += consistency_warnings(run, defs)
    pair_col, variant_col = input_column(pair_by), input_column(variant_column)
    groups: dict[str, dict[str, int]] = {}
    loose = 0
    for i, row in enumerate(run.rows):
        pair, variant = row.get(pair_col), row.get(variant_col)
        if pair is None or variant is None:
            loose += 1
            continue
        members = groups.setdefault(pairing_key(pair), {})
        vkey = pairing_key(variant)
        if vkey in members:
            raise CompareError(
                f"pair {pairing_key(pair)!r} has variant {vkey!r} twice "
                f"(lines {row_line(run.rows[members[vkey]])} and {row_line(row)})",
                where=str(run.path),
                hint="each pair needs one row per variant",
            )
        members[vkey] = i
    if loose == len(run.rows):
        raise CompareError(
            f"no row has both {pair_col} and {variant_col}",
            where=str(run.path),
            hint="name dataset columns: --pair-by pair_id --variant-column variant",
        )
    if loose:
        warnings.append(
            f"{plural(loose, 'row')} without {pair_col} or {variant_col} "
            f"{'is' if loose == 1 else 'are'} left out"
        )
    variants = sorted({v for members in groups.values() for v in members})
    if baseline_variant is None:
        if len(variants) < 2:
            raise CompareError(
                f"{variant_col} has a single value ({', '.join(map(repr, variants))}); "
                "nothing to compare",
                where=str(run.path),
            )
        baseline_variant = variants[0]
    elif baseline_variant not in variants:
        raise CompareError(
            f"baseline variant {baseline_variant!r} does not occur in {variant_col} "
            f"(values: {', '.join(map(repr, variants))})",
            where=str(run.path),
        )
    names = list(defs)
    by_variant: dict[str, list[Row]] = {}
    for members in groups.values():
        for v, i in members.items():
            by_variant.setdefault(v, []).append(run.rows[i])
    overall_of = {v: {n: recompute(defs[n], rows) for n in names} for v, rows in by_variant.items()}
    comparisons: list[Comparison] = []
    regressions: list[str] = []
    for variant in variants:
        if variant == baseline_variant:
            continue
        both = [m for m in groups.values() if baseline_variant in m and variant in m]
        only_b = sum(1 for m in groups.values() if baseline_variant in m and variant not in m)
        only_c = sum(1 for m in groups.values() if variant in m and baseline_variant not in m)
        if only_b or only_c:
            warnings.append(
                f"{variant!r} vs {baseline_variant!r}: {plural(only_b + only_c, 'pair')} "
                f"lacking one of the two variants {'is' if only_b + only_c == 1 else 'are'} "
                "left out"
            )
        if not both:
            warnings.append(f"no pair has both {baseline_variant!r} and {variant!r}")
        comparison = compare_rows(
            [run.rows[m[baseline_variant]] for m in both],
            [run.rows[m[variant]] for m in both],
            [(defs[n], defs[n]) for n in names],
            {n: (overall_of[baseline_variant][n], overall_of[variant][n]) for n in names},
            opts,
            labels=(baseline_variant, variant),
            pairing=Pairing(
                by=pair_col,
                paired=len(both),
                unmatched_baseline=only_b,
                unmatched_candidate=only_c,
            ),
        )
        comparisons.append(comparison)
        regressions += [f"{variant}: {m.metric}" for m in comparison.metrics if m.regression]
    return Report(
        mode="variants",
        baseline_file=str(run.path),
        candidate_file=None,
        settings=opts.settings(),
        comparisons=comparisons,
        mismatches=[],
        warnings=warnings,
        regressions=regressions,
    )


def compare_rows(
    base_rows: Sequence[Row],
    cand_rows: Sequence[Row],
    defs: Sequence[tuple[MetricDef, MetricDef]],
    overall: dict[str, tuple[float | None, float | None]],
    opts: CompareOptions,
    *,
    labels: tuple[str, str],
    pairing: Pairing,
) -> Comparison:
    """Compare metrics over already-paired rows (``base_rows[i]`` pairs with ``cand_rows[i]``)."""
    columns: list[list[float | None]] = []
    tested: list[int] = []
    results: list[dict[str, Any]] = []
    ci: dict[int, Interval | None] = {}
    for bdef, cdef in defs:
        if bdef.kind == "corpus":
            # Not a mean of row values: resampled on its own (see evalcli.compare.corpus).
            fields, interval = compare_corpus(
                bdef,
                cdef,
                base_rows,
                cand_rows,
                resamples=opts.resamples,
                seed=opts.seed,
                confidence=opts.confidence,
            )
            fields["baseline_overall"], fields["candidate_overall"] = overall[bdef.name]
            ci[len(results)] = interval
            results.append(fields)
            continue
        bvals = [bdef.row_value(r) for r in base_rows]
        cvals = [cdef.row_value(r) for r in cand_rows]
        entry: dict[str, Any] = {
            "metric": bdef.name,
            "evaluator": bdef.evaluator,
            "kind": bdef.kind,
            "direction": bdef.direction,
            "baseline_overall": overall[bdef.name][0],
            "candidate_overall": overall[bdef.name][1],
            "mcnemar": None,
        }
        if bdef.kind == "error_count":
            b_total = math.fsum(v for v in bvals if v is not None)
            c_total = math.fsum(v for v in cvals if v is not None)
            entry.update(n=len(base_rows), baseline=b_total, candidate=c_total)
            entry["diff"] = c_total - b_total
            results.append(entry)
            continue
        pairs = [
            (b, c) for b, c in zip(bvals, cvals, strict=True) if b is not None and c is not None
        ]
        diffs = [c - b for b, c in pairs]
        entry.update(
            n=len(pairs),
            baseline=mean([b for b, _ in pairs]),
            candidate=mean([c for _, c in pairs]),
            diff=mean(diffs),
        )
        if bdef.binary:
            lost = sum(1 for b, c in pairs if b > c)
            gained = sum(1 for b, c in pairs if c > b)
            entry["mcnemar"] = McNemar(b=lost, c=gained, p_value=mcnemar_exact_p(lost, gained))
        tested.append(len(results))
        columns.append(
            [None if b is None or c is None else c - b for b, c in zip(bvals, cvals, strict=True)]
        )
        results.append(entry)
    intervals = paired_bootstrap(
        columns, resamples=opts.resamples, seed=opts.seed, confidence=opts.confidence
    )
    ci.update(zip(tested, intervals, strict=True))
    metrics = [_finish(entry, ci.get(i), opts) for i, entry in enumerate(results)]
    return Comparison(baseline=labels[0], candidate=labels[1], pairing=pairing, metrics=metrics)


def _finish(
    entry: dict[str, Any], interval: Interval | None, opts: CompareOptions
) -> MetricComparison:
    """Attach the interval and the verdict."""
    entry["ci_low"] = interval.low if interval else None
    entry["ci_high"] = interval.high if interval else None
    verdict, significant, regression = judge(
        entry["diff"],
        interval,
        entry["mcnemar"].p_value if entry["mcnemar"] else None,
        higher_is_better=entry["direction"] == "higher",
        min_effect=opts.min_effect,
        alpha=opts.alpha,
        tested=entry["kind"] != "error_count",
    )
    return MetricComparison(
        **entry, significant=significant, regression=regression, verdict=verdict
    )


def judge(
    diff: float | None,
    interval: Interval | None,
    p_value: float | None,
    *,
    higher_is_better: bool,
    min_effect: float,
    alpha: float,
    tested: bool = True,
) -> tuple[Verdict, bool, bool]:
    """The verdict on one difference: ``(verdict, significant, regression)``.

    Significant: the interval excludes zero and, when a McNemar p-value is given, it is also
    below ``alpha``. A regression: significant, on the worse side of zero, and worse by at
    least ``min_effect``.
    """
    if diff is None:
        return "no data", False, False
    if not tested or interval is None:
        return "not tested", False, False
    significant = interval.excludes_zero() and (p_value is None or p_value < alpha)
    if not significant:
        return "no significant change", False, False
    went_up = interval.low > 0
    if went_up == higher_is_better:
        return "better", True, False
    worse_by = -diff if higher_is_better else diff
    if worse_by + TOLERANCE >= min_effect:
        return "worse", True, True
    return "worse (below min effect)", True, False
