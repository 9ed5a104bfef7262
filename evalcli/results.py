"""Typed results: rows, errors, metrics, gates and the run record written to results.json.

``RunResult`` holds everything except the rows (unless asked): rows stream to the writers as
they finish so that runs larger than memory work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from evalcli.errors import RowError

SCHEMA_VERSION = 1

Status = Literal["completed", "gate_failed", "run_error", "interrupted"]
#: What a run metric is: a mean of scores, a share of passes / defects / good labels /
#: detections (labels that are neither: an attack found in an input), a
#: count of failed evaluations, or a corpus score computed from the rows' summed statistics
#: (``metric_info.<name>.kind`` in results.json).
MetricKind = Literal[
    "mean", "pass_rate", "defect_rate", "passing_rate", "detection_rate", "error_count", "corpus"
]


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


class _Record(BaseModel):
    """A record of results.json: unknown keys are refused (results are read back by compare)."""

    # defer_build: the validators are built when a run first makes a record, not when
    # `evalcli validate` imports this module for the metric kinds (start-up, issue 15).
    model_config = ConfigDict(extra="forbid", defer_build=True)


class ErrorRecord(_Record):
    """One failed (row, evaluator) pair."""

    line: int
    evaluator: str
    kind: str
    message: str


class GateResult(_Record):
    """The verdict of one gate."""

    metric: str
    op: Literal[">=", "<="]
    threshold: float
    value: float | None
    passed: bool


class Scale(_Record):
    """The fixed scale of a score, from its evaluator's declaration (``OutputField.range``).

    Attributes:
        min: Lowest value of the scale.
        max: Highest value of the scale.
        integer: Every value is a whole number (a 1-5 judge grade, a 0-7 severity).
    """

    min: float
    max: float
    integer: bool = False


class MetricInfo(_Record):
    """What a metric means, taken from its evaluator's declared outputs (never its name):
    ``compare`` reads the direction, the report its chart, its threshold and its subject."""

    evaluator: str
    kind: MetricKind
    direction: Literal["higher", "lower"]
    source_key: str | None = None
    defect_threshold: int | None = None  # defect rates of severities: defects start here
    #: The subject the metric is about: the declared stem of its output field. The console
    #: puts a score and the rates of the same subject on one line; the run's summary counts
    #: severity labels as ``<subject>_distribution``.
    subject: str | None = None
    #: The row output key holding the pass threshold this metric's rows are compared with
    #: (the declared THRESHOLD field of the same subject), for means and pass rates.
    threshold_key: str | None = None
    #: Means of scores with a fixed declared range only: their scale. Left out of
    #: results.json for every other metric.
    scale: Scale | None = None
    #: Corpus metrics only: how the summed statistics become the score (the reducer, its
    #: parameters, sacrebleu's signature), so ``compare`` can recompute it from the rows.
    #: Left out of results.json for every other metric.
    corpus: dict[str, Any] | None = None

    @model_serializer(mode="wrap")
    def _omit_empty_extras(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for key in ("scale", "corpus"):
            if data.get(key) is None:
                data.pop(key, None)
        return data


class DatasetInfo(_Record):
    """The dataset the run read."""

    path: str
    format: str
    rows: int
    sha256: str


class EvaluatorRecord(_Record):
    """How an alias was configured (for reproducibility and ``compare``)."""

    use: str
    family: str
    params: dict[str, Any] = Field(default_factory=dict)
    prompt_sha256: str | dict[str, str | None] | None = None  # composites: per member
    judge: str | None = None


class RunInfo(_Record):
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
    #: The run's ``run.max_error_rate``, so that the JUnit file (whose evaluator test cases
    #: err above it) can be written again from results.json alone.
    max_error_rate: float = 0.0


class EvaluatorSummary(_Record):
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


class RunResult(_Record):
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
    #: Spark engine: the rows are not inlined in results.json; they are this Parquet
    #: directory (relative to results.json), one row per line with a ``row_json`` column
    #: holding what ``rows`` would hold. Left out of results.json by the local engine.
    rows_parquet: str | None = None
    output_dir: str | None = None
    #: Where the run was logged in MLflow (``output.mlflow``): its page or run id. Known
    #: once results.json is written, so not part of it.
    tracked_at: str | None = Field(default=None, exclude=True)

    @model_serializer(mode="wrap")
    def _omit_local_keys(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("rows_parquet") is None:
            data.pop("rows_parquet", None)
        return data
