"""``evalcli compare``: paired statistics between two runs, or between variants of one run.

Library entry points (the CLI is a thin client)::

    from evalcli.compare import compare_runs, compare_variants
    report = compare_runs(Path("old/results.json"), Path("new/results.json"))
    report.regressions  # metrics that got significantly worse

See :mod:`evalcli.compare.stats` for the statistics and :mod:`evalcli.compare.metrics` for how
metrics are recomputed from rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalcli._lazy import exports

if TYPE_CHECKING:
    from evalcli.compare.engine import CompareOptions, compare_runs, compare_variants
    from evalcli.compare.load import CompareError, RunMismatchError
    from evalcli.compare.model import Comparison, McNemar, MetricComparison, Report
    from evalcli.compare.stats import mcnemar_exact_p, paired_bootstrap

# Imported on first use: the report and `evalcli.compare.metrics` (which a run's report reads)
# must not pay for the comparison engine, its models and statistics (issue 15).
_HOME = {
    **dict.fromkeys(("CompareOptions", "compare_runs", "compare_variants"), ".engine"),
    **dict.fromkeys(("CompareError", "RunMismatchError"), ".load"),
    **dict.fromkeys(("Comparison", "McNemar", "MetricComparison", "Report"), ".model"),
    **dict.fromkeys(("mcnemar_exact_p", "paired_bootstrap"), ".stats"),
}

__all__ = [
    "CompareError",
    "CompareOptions",
    "Comparison",
    "McNemar",
    "MetricComparison",
    "Report",
    "RunMismatchError",
    "compare_runs",
    "compare_variants",
    "mcnemar_exact_p",
    "paired_bootstrap",
]

__getattr__, __dir__ = exports(__name__, _HOME)
