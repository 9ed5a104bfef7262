"""What every deterministic check shares: its result type and how reasons quote texts."""

from __future__ import annotations

from dataclasses import dataclass

#: Longest piece of a text quoted in a reason.
SNIPPET = 60


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check on one row.

    Attributes:
        passed: The row passed the check.
        reason: What matched or did not, quoting (shortened) the texts involved.
        score: 1.0 or 0.0 (pass or fail), or the similarity for ``SimilarityRatio``.
    """

    passed: bool
    reason: str
    score: float


def verdict(passed: bool, reason: str) -> CheckResult:
    """A pass/fail result scored 1.0 or 0.0."""
    return CheckResult(passed, reason, 1.0 if passed else 0.0)


def snippet(text: str, limit: int = SNIPPET) -> str:
    """``text`` quoted, shortened to ``limit`` characters with its length when longer."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} chars)"


def text_of(value: object, what: str = "the response") -> str:
    """``value`` if it is a string; ValueError naming ``what`` otherwise."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {type(value).__name__}")
    return value
