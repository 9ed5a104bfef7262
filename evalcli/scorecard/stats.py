"""A bootstrap clustered on pairs, for ratios such as the attack success rate.

The variants of one baseline row are not independent (the same request, wrapped K ways), so
resampling single variants would make intervals too narrow. The resampling unit here is the
cluster — all variants of one ``pair_id`` — as in the cluster (block) bootstrap: one resample
draws as many clusters as there are, uniformly with replacement, and a cell's statistic is
``sum(successes) / sum(trials)`` over the drawn clusters (a ratio estimator, so clusters
weigh by their size). Every cell is evaluated on the same draws, as ``compare`` does for its
metrics, and the interval is the percentile interval of
:func:`evalcli.compare.stats.percentile_interval`.

Speed: each cluster's counts of every cell are packed side by side into one Python integer
(each count in its own bit field, wide enough that a sum over all drawn clusters cannot
overflow into the next), so one ``sum`` over the drawn integers adds every cell at once in C
— the trick :func:`evalcli.compare.stats.paired_bootstrap` uses.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from evalcli.compare.stats import Interval, percentile_interval

Counts = tuple[int, int]  # (successes, trials) of one cell in one cluster


def cluster_bootstrap(
    cells: Sequence[Sequence[Counts]],
    *,
    resamples: int,
    seed: int,
    confidence: float = 0.95,
) -> list[Interval | None]:
    """Percentile intervals of ``sum(successes) / sum(trials)`` for several cells at once.

    Args:
        cells: One entry per cell; each holds one ``(successes, trials)`` per cluster, in the
            same cluster order for every cell (``(0, 0)`` where the cell has no trial).
        resamples: Number of bootstrap resamples.
        seed: Seed of ``random.Random``; the same inputs and seed give the same intervals.
        confidence: Coverage of the interval.

    Returns:
        One interval per cell; None for a cell without any trial.
    """
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    m = len(cells[0]) if cells else 0
    if any(len(cell) != m for cell in cells):
        raise ValueError("every cell needs one entry per cluster")
    if m == 0:
        return [None] * len(cells)
    packed = [0] * m
    fields: list[tuple[int, int, int, int] | None] = []  # (s offset, s mask, n offset, n mask)
    offset = 0
    for cell in cells:
        if not any(n for _, n in cell):
            fields.append(None)
            continue
        if any(s < 0 or n < s for s, n in cell):
            raise ValueError("need 0 <= successes <= trials")
        s_width = (max(s for s, _ in cell) * m).bit_length() + 1
        n_width = (max(n for _, n in cell) * m).bit_length() + 1
        s_off, n_off = offset, offset + s_width
        for i, (s, n) in enumerate(cell):
            packed[i] |= (s << s_off) | (n << n_off)
        offset = n_off + n_width
        fields.append((s_off, (1 << s_width) - 1, n_off, (1 << n_width) - 1))

    stats: list[list[float]] = [[] for _ in cells]
    rng = random.Random(seed)
    for _ in range(resamples):
        total = sum(rng.choices(packed, k=m))
        for field, out in zip(fields, stats, strict=True):
            if field is None:
                continue
            s_off, s_mask, n_off, n_mask = field
            trials = (total >> n_off) & n_mask
            if trials:  # no drawn cluster has a trial of this cell: the resample says nothing
                out.append(((total >> s_off) & s_mask) / trials)
    return [
        percentile_interval(out, confidence) if field is not None and out else None
        for field, out in zip(fields, stats, strict=True)
    ]
