"""The typed outcome of ``evalcli compare`` (``--format json`` is a dump of :class:`Report`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Verdict = Literal[
    "better",
    "worse",
    "worse (below min effect)",
    "no significant change",
    "not tested",
    "no data",
]


def rule_text(confidence: float, alpha: float) -> str:
    """The significance and regression rule, in words (repeated in the JSON and the README)."""
    return (
        f"a difference is significant when its {confidence:.0%} paired-bootstrap interval "
        "excludes zero and, for pass/fail, defect and label outcomes, the exact McNemar "
        f"p-value is also below {alpha:g}; a regression is a significant change in the worse "
        "direction whose size is at least min_effect"
    )


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class McNemar(_Model):
    """Exact McNemar test of a paired binary outcome (1 = pass, defect or true label).

    ``b`` counts pairs whose outcome was 1 in the baseline and 0 in the candidate, ``c`` the
    reverse; the mean difference on the pairs is ``(c - b) / n``.
    """

    b: int
    c: int
    p_value: float


class MetricComparison(_Model):
    """One metric, baseline versus candidate, on the paired rows."""

    metric: str
    evaluator: str
    kind: str
    direction: Literal["higher", "lower"]
    n: int  # paired rows on which the metric was scored in both (all paired rows for errors)
    baseline: float | None
    candidate: float | None
    diff: float | None  # candidate - baseline
    ci_low: float | None
    ci_high: float | None
    mcnemar: McNemar | None
    baseline_overall: float | None  # whole run (or all rows of the variant)
    candidate_overall: float | None
    significant: bool
    regression: bool
    verdict: Verdict


class Pairing(_Model):
    """How rows were matched."""

    by: str  # the flat column rows were matched on (``inputs.id``, ``line``, ...)
    paired: int
    unmatched_baseline: int  # rows (runs) or pairs (variants) without a partner
    unmatched_candidate: int


class Comparison(_Model):
    """One baseline/candidate comparison (a variant against the baseline variant, in pair mode)."""

    baseline: str
    candidate: str
    pairing: Pairing
    metrics: list[MetricComparison]


class Settings(_Model):
    """Statistical settings of the comparison."""

    resamples: int
    seed: int
    confidence: float
    alpha: float
    min_effect: float
    rule: str


class Report(_Model):
    """Everything ``evalcli compare`` found."""

    mode: Literal["runs", "variants"]
    baseline_file: str
    candidate_file: str | None
    settings: Settings
    comparisons: list[Comparison]
    mismatches: list[str]
    warnings: list[str]
    regressions: list[str]

    @property
    def has_regression(self) -> bool:
        """True when some metric got significantly worse by at least the minimum effect."""
        return bool(self.regressions)
