"""Typed results: rows, errors, metrics, gates and the run record written to results.json.

``RunResult`` holds everything except the rows (unless asked): rows stream to the writers as
they finish so that runs larger than memory work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from evalcli.errors import RowError

SCHEMA_VERSION = 1

Status = Literal["completed", "gate_failed", "run_error", "interrupted"]


class PartialOutcome(dict[str, Any]):
    """A composite's merged outputs when some (not all) of its members failed."""

    def __init__(self) -> None:
        super().__init__()
        self.member_errors: list[tuple[str, RowError]] = []


Outcome = dict[str, Any] | RowError


@dataclass(slots=True)
class RowResult:
    """Everything known about one dataset row once all its evaluators finished."""

    line: int
    data: dict[str, Any]
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    target: dict[str, Any] | None = None
    target_error: RowError | None = None

    def flat(self) -> dict[str, Any]:
        """The reference SDK's flat layout: ``inputs.<col>``, ``outputs.<alias>.<key>``."""
        out: dict[str, Any] = {"line": self.line}
        for key, value in self.data.items():
            out[f"inputs.{key}"] = value
        if self.target is not None:
            for key, value in self.target.items():
                out[f"outputs.{key}"] = value
        if self.target_error is not None:
            out["outputs.target.error"] = self.target_error.message
            out["outputs.target.error_kind"] = self.target_error.kind
        for alias, outcome in self.outcomes.items():
            prefix = f"outputs.{alias}."
            if isinstance(outcome, RowError):
                out[prefix + "error"] = outcome.message
                out[prefix + "error_kind"] = outcome.kind
                for key, value in outcome.extra.items():
                    out[prefix + key] = value
            else:
                for key, value in outcome.items():
                    out[prefix + key] = value
        return out


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorRecord(_Frozen):
    """One failed (row, evaluator) pair."""

    line: int
    evaluator: str
    kind: str
    message: str


class GateResult(_Frozen):
    """The verdict of one gate."""

    metric: str
    op: Literal[">=", "<="]
    threshold: float
    value: float | None
    passed: bool


class MetricInfo(_Frozen):
    """What a metric means, so that ``compare`` knows which direction is worse."""

    evaluator: str
    kind: Literal["mean", "pass_rate", "defect_rate", "passing_rate", "error_count"]
    direction: Literal["higher", "lower"]
    source_key: str | None = None
    defect_threshold: int | None = None  # defect rates of severities: defects start here


class DatasetInfo(_Frozen):
    """The dataset the run read."""

    path: str
    format: str
    rows: int
    sha256: str


class EvaluatorRecord(_Frozen):
    """How an alias was configured (for reproducibility and ``compare``)."""

    use: str
    family: str
    params: dict[str, Any] = Field(default_factory=dict)
    prompt_sha256: str | dict[str, str | None] | None = None  # composites: per member
    judge: str | None = None


class RunInfo(_Frozen):
    """Run metadata."""

    name: str
    started_at: str
    finished_at: str
    duration_s: float
    evalcli_version: str
    config_path: str
    config_sha256: str
    dataset: DatasetInfo
    evaluators: dict[str, EvaluatorRecord]
    #: Worker processes that ran CPU-bound metrics (0: they ran in the evalcli process).
    workers: int = 0


class EvaluatorSummary(_Frozen):
    """Per-alias numbers for the console table."""

    alias: str
    use: str
    family: str
    scored: int
    errors: int
    headline_key: str | None = None
    mean: float | None = None
    pass_rate: float | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class RunResult(_Frozen):
    """The outcome of a run (what results.json holds, minus the rows unless kept)."""

    schema_version: int = SCHEMA_VERSION
    status: Status
    exit_code: int
    message: str | None = None
    run: RunInfo
    metrics: dict[str, float | None]
    metric_info: dict[str, MetricInfo]
    summaries: list[EvaluatorSummary]
    gates: list[GateResult]
    errors: list[ErrorRecord]
    usage: dict[str, Any] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    rows: list[dict[str, Any]] | None = None
    output_dir: str | None = None
