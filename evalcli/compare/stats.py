"""Paired statistics for ``evalcli compare``: a paired bootstrap and the exact McNemar test.

Both functions are deterministic: the bootstrap draws from ``random.Random(seed)`` and the
McNemar p-value is computed with integer arithmetic.

**Corpus metrics** (a corpus BLEU, chrF or TER, computed from rows' summed statistics rather
than averaged) are resampled by :func:`resampled_interval`: the same kind of paired draws, on
the rows where the metric was scored in both runs, with the difference of the two runs'
corpus scores recomputed on every resample.

**Paired bootstrap.** The resampling unit is a paired row (the same ``id`` in both runs, or the
two variants of one pair). One resample draws ``N`` of the ``N`` paired rows uniformly with
replacement; for each metric its statistic is the mean of ``candidate - baseline`` over the
drawn rows on which that metric was scored in both runs (a row drawn twice counts twice).
Every metric is evaluated on the *same* drawn rows, as in the textbook paired bootstrap of a
vector of statistics. The interval is the percentile interval: the ``(1-c)/2`` and ``(1+c)/2``
quantiles (linear interpolation between order statistics, "type 7") of the resampled means.

The per-row differences of all metrics are packed side by side into one Python integer per row
(each metric in its own bit field, wide enough that a sum over ``N`` rows cannot overflow into
the next). Summing the drawn rows' integers then sums every metric, and the per-metric row
counts, at once in C, which is what makes 2,000 resamples of 10,000 rows x 20 metrics take
about two seconds in pure Python. Differences that are integers or other multiples of a power
of two (pass/fail, defect and label outcomes, 1-5 and 0-7 scores, halves, quarters) are packed
exactly; other values are mapped to 52-bit fixed point over their range, a resolution equal to
that of a double.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: Bits of fixed-point resolution for non-integer differences (a double has 53).
_FIXED_POINT_BITS = 52

#: Columns whose values are multiples of 2**-shift for shift <= this, spanning fewer than
#: 2**_MAX_EXACT_BITS steps, are packed exactly as integers.
_MAX_EXACT_SHIFT = 60
_MAX_EXACT_BITS = 64

#: The McNemar tail sum stops once the terms left over cannot matter: their total (bounded by a
#: geometric series) is below 2**-_TAIL_BITS of the sum so far, far below double resolution.
_TAIL_BITS = 80


@dataclass(frozen=True, slots=True)
class Interval:
    """A two-sided confidence interval."""

    low: float
    high: float

    def excludes_zero(self) -> bool:
        """True when zero lies outside ``[low, high]``."""
        return self.low > 0 or self.high < 0


@dataclass(slots=True)
class _Field:
    """Where one metric lives inside the packed row integers, and how to decode it."""

    offset: int
    mask: int
    count_offset: int
    lo: float
    lo_int: int | None  # exact column: value = (q + lo_int) / 2**shift
    shift: int
    scale: float  # fixed-point column (lo_int None): value = q / scale + lo


def mcnemar_exact_p(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value for paired binary outcomes.

    Under the null hypothesis each of the ``b + c`` discordant pairs is equally likely to go
    either way, so ``min(b, c)`` follows Binomial(b + c, 1/2). The p-value is
    ``min(1, 2 * P(X <= min(b, c)))``, computed with integers: the binomial coefficients are
    built by exact recurrence and the ratio ``2 * tail / 2**n`` is rounded once. For large
    ``n`` the sum stops when the terms still missing are provably below ``2**-80`` of it,
    so the result is the exact p-value to double precision.

    Args:
        b: Discordant pairs of one kind (outcome held in the baseline only).
        c: Discordant pairs of the other kind (outcome held in the candidate only).

    Returns:
        The p-value in ``[0, 1]``; 1.0 when there is no discordant pair.
    """
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be non-negative")
    n = b + c
    k = min(b, c)
    if n == 0 or 2 * k >= n:
        return 1.0
    # Sum C(n, i) for i = k, k-1, ..., 0. Walking down from k the terms shrink by the ratio
    # i / (n - i + 1) < 1, so the terms not yet added total at most term * r / (1 - r).
    term = math.comb(n, k)
    tail = term
    for i in range(k, 0, -1):
        term = term * i // (n - i + 1)  # exact: equals C(n, i - 1)
        tail += term
        j = i - 1
        if term * j << _TAIL_BITS < tail * (n - 2 * j + 1):
            break
    return min(1.0, (2 * tail) / (1 << n))


def percentile_interval(values: Sequence[float], confidence: float) -> Interval:
    """Percentile interval of bootstrap statistics (type-7 quantiles).

    The upper end is interpolated from the top of the sorted values exactly as the lower end
    is from the bottom, so that negating every value negates the interval bit for bit (swapping
    baseline and candidate mirrors the result).

    Args:
        values: The resampled statistics, in any order (at least one).
        confidence: For example 0.95.
    """
    if not values:
        raise ValueError("no bootstrap statistics")
    xs = sorted(values)
    h = (len(xs) - 1) * (1 - confidence) / 2
    i = math.floor(h)
    frac = h - i
    low, high = xs[i], xs[-1 - i]
    if frac and i + 1 < len(xs):
        low = low + (xs[i + 1] - low) * frac
        high = high - (high - xs[-2 - i]) * frac
    return Interval(low + 0.0, high + 0.0)  # + 0.0 turns -0.0 into 0.0


def paired_bootstrap(
    diffs: Sequence[Sequence[float | None]],
    *,
    resamples: int,
    seed: int,
    confidence: float = 0.95,
) -> list[Interval | None]:
    """Percentile intervals for the mean paired difference of several metrics at once.

    Args:
        diffs: One column per metric, each with one entry per paired row (all of the same
            length ``N``): ``candidate - baseline`` for that row, or None when the metric was
            not scored in both runs for that row.
        resamples: Number of bootstrap resamples.
        seed: Seed of ``random.Random``; the same inputs and seed give the same intervals.
        confidence: Coverage of the interval.

    Returns:
        One interval per column; None for a column with no scored row.
    """
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    n = len(diffs[0]) if diffs else 0
    if any(len(col) != n for col in diffs):
        raise ValueError("every column needs one entry per paired row")
    if n == 0:
        return [None] * len(diffs)

    count_width = n.bit_length() + 1
    packed = [1] * n  # field 0 counts drawn rows; it also keeps every row integer non-zero
    offset = count_width
    count_fields: dict[tuple[bool, ...], int] = {}
    fields: list[_Field | None] = []
    for col in diffs:
        valid = tuple(v is not None for v in col)
        if not any(valid):
            fields.append(None)
            continue
        if all(valid):
            count_offset = 0
        elif valid in count_fields:
            count_offset = count_fields[valid]
        else:
            count_offset = count_fields[valid] = offset
            for i, ok in enumerate(valid):
                if ok:
                    packed[i] |= 1 << offset
            offset += count_width
        new, quantized = _quantize(col, offset, count_offset)
        width = (max(quantized) * n).bit_length() + 1
        new.mask = (1 << width) - 1
        for i, q in enumerate(quantized):
            if q:
                packed[i] |= q << offset
        offset += width
        fields.append(new)

    count_mask = (1 << count_width) - 1
    stats: list[list[float]] = [[] for _ in diffs]
    rng = random.Random(seed)
    for _ in range(resamples):
        total = sum(rng.choices(packed, k=n))
        for field, out in zip(fields, stats, strict=True):
            if field is None:
                continue
            cnt = (total >> field.count_offset) & count_mask
            if cnt == 0:  # no drawn row scored this metric: this resample says nothing
                continue
            q_sum = (total >> field.offset) & field.mask
            if field.lo_int is not None:  # one correctly rounded division of exact integers
                out.append((q_sum + cnt * field.lo_int) / (cnt << field.shift))
            else:
                out.append(q_sum / (field.scale * cnt) + field.lo)
    return [
        percentile_interval(out, confidence) if field is not None and out else None
        for field, out in zip(fields, stats, strict=True)
    ]


def resampled_interval(
    statistic: Callable[[list[int]], float | None],
    n: int,
    *,
    resamples: int,
    seed: int,
    confidence: float = 0.95,
) -> Interval | None:
    """Percentile interval of a statistic of whole resamples of ``n`` paired rows.

    For statistics that are not means of per-row values, such as the difference of two
    corpus scores: each resample draws ``n`` row indices uniformly with replacement
    (``random.Random(seed)``, so the same inputs and seed give the same interval) and
    ``statistic`` computes its value from the rows at those indices, in both runs alike.

    Returns:
        None when there is no row, or no resample gives a finite value.
    """
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    if n == 0:
        return None
    rng = random.Random(seed)
    population = range(n)
    values = []
    for _ in range(resamples):
        value = statistic(rng.choices(population, k=n))
        if value is not None and math.isfinite(value):
            values.append(value)
    return percentile_interval(values, confidence) if values else None


def _quantize(
    col: Sequence[float | None], offset: int, count_offset: int
) -> tuple[_Field, list[int]]:
    """Map one column to non-negative integers (0 for unscored rows).

    Values that are all multiples of one power of two (integers, halves, quarters, ...) within
    a moderate range are scaled to integers exactly; anything else goes to fixed point with
    ``_FIXED_POINT_BITS`` bits over the column's range.
    """
    present = [v for v in col if v is not None]
    lo, hi = min(present), max(present)
    shift = max(float(v).as_integer_ratio()[1].bit_length() - 1 for v in present)
    if shift <= _MAX_EXACT_SHIFT and ((hi - lo) * 2.0**shift) < 2.0**_MAX_EXACT_BITS:
        lo_int = int(lo * 2**shift)
        q = [0 if v is None else int(v * 2**shift) - lo_int for v in col]
        return _Field(offset, 0, count_offset, lo, lo_int, shift, 1.0), q
    scale = (2**_FIXED_POINT_BITS) / (hi - lo) if hi > lo else 1.0
    if not math.isfinite(scale):  # a range of a few subnormals: rounding them away is harmless
        scale = 1.0
    q = [0 if v is None else round((v - lo) * scale) for v in col]
    return _Field(offset, 0, count_offset, lo, None, 0, scale), q
