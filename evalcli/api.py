"""The library entry points: :func:`validate` and :func:`run` (the CLI is one client)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalcli._version import __version__
from evalcli.aggregate import Aggregator
from evalcli.cache import CallCache
from evalcli.config import LoadedConfig, load_config
from evalcli.errors import ExitCode, RowError
from evalcli.gates import check_gates
from evalcli.plan import PlanOptions, RunPlan, build_plan
from evalcli.reporters.files import ResultFiles
from evalcli.reporters.terminal import plural
from evalcli.results import (
    DatasetInfo,
    ErrorRecord,
    EvaluatorRecord,
    PartialOutcome,
    RowResult,
    RunInfo,
    RunResult,
    Status,
)
from evalcli.runner import ProgressFn, Runner, RunStats
from evalcli.usercode import abandoned_calls

if TYPE_CHECKING:
    from evalcli.judge.client import ClientPool, TranscriptWriter


def _load(config: str | os.PathLike[str] | LoadedConfig) -> LoadedConfig:
    if isinstance(config, LoadedConfig):
        return config
    # Unset ${env:NAME} are reported by build_plan, all together, after every other check.
    return load_config(config, allow_unset=True)


def validate(
    config: str | os.PathLike[str] | LoadedConfig, options: PlanOptions | None = None
) -> RunPlan:
    """Check everything that can be checked without calling a model.

    Returns:
        The run plan (evaluators built, dataset scanned, mappings and gates checked).

    Raises:
        evalcli.errors.UsageError: the config, dataset, mapping or a resource is bad, or
            environment variables it uses are unset (all of them named at once) (exit 2).
    """
    return build_plan(_load(config), options)


class _Collector:
    """Row sink: metrics, error list, files and (optionally) kept rows."""

    def __init__(
        self,
        agg: Aggregator,
        files: ResultFiles | None,
        keep_rows: bool,
        on_row: Callable[[RowResult], None] | None,
    ):
        self.agg = agg
        self.files = files
        self.errors: list[ErrorRecord] = []
        self.rows: list[dict[str, Any]] | None = [] if keep_rows else None
        self.on_row = on_row

    def write(self, row: RowResult) -> None:
        if self.agg.has_target:
            err = row.target_error
            self.agg.add_target(err is not None)
            if err is not None:
                self.errors.append(
                    ErrorRecord(
                        line=row.line, evaluator="target", kind=err.kind, message=err.message
                    )
                )
        for alias, outcome in row.outcomes.items():
            self.agg.add(alias, outcome)
            if isinstance(outcome, RowError):
                self.errors.append(
                    ErrorRecord(
                        line=row.line, evaluator=alias, kind=outcome.kind, message=outcome.message
                    )
                )
            elif isinstance(outcome, PartialOutcome):
                for member, err in outcome.member_errors:
                    self.errors.append(
                        ErrorRecord(
                            line=row.line,
                            evaluator=alias,
                            kind=err.kind,
                            message=f"{member}: {err.message}",
                        )
                    )
        if self.files is not None:
            self.files.write(row)
        if self.rows is not None:
            self.rows.append(row.flat())
        if self.on_row is not None:
            self.on_row(row)


def run(
    config: str | os.PathLike[str] | LoadedConfig | RunPlan,
    *,
    options: PlanOptions | None = None,
    keep_rows: bool = False,
    write_files: bool = True,
    progress: ProgressFn | None = None,
    on_row: Callable[[RowResult], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    transcripts: Path | None = None,
) -> RunResult:
    """Run an evaluation.

    Args:
        config: A config path, a loaded config, or a plan from :func:`validate`.
        options: Command-line style overrides (output dir, limit, concurrency).
        keep_rows: Also return every row (flat layout) in ``RunResult.rows``.
        write_files: Write results.json and results.csv to the output directory.
        progress: Called with (rows done, rows total).
        on_row: Called with every finished row, in input order.
        should_stop: Polled by the runner; returning True stops the run as interrupted.
        transcripts: Write every judge request and answer to this JSONL file.

    Returns:
        The run result; ``exit_code`` follows the CLI's exit-code contract.

    Raises:
        evalcli.errors.UsageError: bad input found before the run (nothing was written).
    """
    plan = config if isinstance(config, RunPlan) else build_plan(_load(config), options)
    writer = None
    if transcripts is not None:
        from evalcli.judge.client import TranscriptWriter

        writer = TranscriptWriter(transcripts)
    services = RunServices(plan, writer)
    agg = Aggregator([b.evaluator for b in plan.evaluators], has_target=plan.target is not None)
    files = ResultFiles(plan, plan.output_dir) if write_files else None
    sink = _Collector(agg, files, keep_rows, on_row)
    try:
        result = _execute(plan, agg, sink, progress, should_stop, write_files)
        if files is not None:
            files.finish(result)
            if plan.loaded.config.output.html:
                _write_html(plan, result)
    except BaseException:
        if files is not None:
            files.abort()
        raise
    finally:
        services.close()
    if files is not None and plan.loaded.config.output.mlflow is not None:
        _track(plan, result)
    return result


class RunServices:
    """What a run opens besides its plan: the call cache, and the clients attached to it.

    Shared by the local engine (:func:`run`) and each Spark task, which must open and close
    them the same way.
    """

    def __init__(self, plan: RunPlan, writer: TranscriptWriter | None = None) -> None:
        self.plan = plan
        self.cache = CallCache(plan.cache_path) if plan.cache_path is not None else None
        self.pool = _client_pool(plan)
        if self.pool is not None:
            self.pool.attach(writer, self.cache)
        if plan.target is not None:
            plan.target.cache = self.cache

    def close(self) -> None:
        """Close the clients, the target and the cache (in that order: clients may write)."""
        if self.pool is not None:
            self.pool.close()
        if self.plan.target is not None:
            self.plan.target.close()
        if self.cache is not None:
            self.cache.close()


def _track(plan: RunPlan, result: RunResult) -> None:
    """Log the run to MLflow once its files are written; a failure is only a warning."""
    from evalcli.tracking.mlflow import track_run  # lazy: only runs that track

    tracked = track_run(plan.loaded, result, plan.output_dir)
    if tracked is not None:
        result.tracked_at = tracked.where


def _execute(
    plan: RunPlan,
    agg: Aggregator,
    sink: _Collector,
    progress: ProgressFn | None,
    should_stop: Callable[[], bool] | None,
    write_files: bool,
) -> RunResult:
    started_wall = datetime.now(UTC)
    started = time.monotonic()
    abandoned_before, _ = abandoned_calls()
    stats = Runner(plan, sink, progress, should_stop).run()
    abandoned, still_running = abandoned_calls()
    stats.abandoned_calls = abandoned - abandoned_before
    stats.still_running = still_running
    return finish_result(plan, agg, sink, stats, started_wall, started, write_files)


def finish_result(
    plan: RunPlan,
    agg: Aggregator,
    sink: _Collector,
    stats: RunStats,
    started_wall: datetime,
    started: float,
    write_files: bool,
) -> RunResult:
    """The run's status, exit code and record from what the rows added up to (shared by the
    local engine and the Spark engine, whose driver aggregates the rows the same way)."""
    metrics = agg.metrics()
    gates = check_gates(plan.loaded.config.gates, metrics)
    never = _never_produced(plan, metrics)

    status: Status
    message: str | None = None
    if stats.interrupted:
        status, code = "interrupted", ExitCode.INTERRUPTED
        message = f"interrupted after {stats.rows_done} of {plural(plan.scan.rows, 'row')}"
    elif stats.fatal is not None:
        status, code = "run_error", ExitCode.RUN_ERROR
        message = str(stats.fatal)
    elif _error_rate(agg) > plan.max_error_rate:
        status, code = "run_error", ExitCode.RUN_ERROR
        message = (
            f"{agg.total_errors} of {agg.total_pairs} (row, evaluator) evaluations failed "
            f"({_error_rate(agg):.1%}), above run.max_error_rate "
            f"{plan.max_error_rate:.1%}"
        )
    elif never:
        status, code = "run_error", ExitCode.RUN_ERROR
        message = never
    elif not all(g.passed for g in gates):
        status, code = "gate_failed", ExitCode.GATE_FAILED
        failed = [g for g in gates if not g.passed]
        message = f"{len(failed)} of {len(gates)} gate{'s' if len(gates) != 1 else ''} failed"
    else:
        status, code = "completed", ExitCode.OK

    finished = time.monotonic()
    result = RunResult(
        status=status,
        exit_code=int(code),
        message=message,
        run=_run_info(plan, started_wall, finished - started, stats.workers),
        metrics=metrics,
        metric_info=agg.metric_info(),
        summaries=agg.summaries(),
        gates=gates,
        errors=sink.errors,
        usage=_usage(plan, agg),
        warnings=_run_warnings(stats),
        rows=sink.rows,
        output_dir=str(plan.output_dir) if write_files else None,
    )
    return result


def _write_html(plan: RunPlan, result: RunResult) -> None:
    """report.html beside results.json; a failure to write it never fails the run."""
    from evalcli.report import ReportError, write_report  # lazy: only runs that write files

    try:
        write_report(plan.output_dir)
    except (ReportError, OSError) as exc:
        result.warnings.append(f"report.html not written: {exc}")


def _run_warnings(stats: RunStats) -> list[str]:
    """What went wrong during the run without making any row's result wrong."""
    out = []
    if stats.abandoned_calls:
        n = stats.abandoned_calls
        out.append(
            f"{plural(n, 'call')} of your Python code (target or code evaluator) ran past "
            f"timeout_s and {'was' if n == 1 else 'were'} abandoned: Python cannot stop a "
            f"thread; {stats.still_running} still running, stopped when evalcli exits"
        )
    if stats.worker_deaths:
        n = stats.worker_deaths
        out.append(
            f"{plural(n, 'worker process', 'worker processes')} died during the run "
            f"(killed by the OS, out of memory, or a crash); "
            f"{'its work was' if n == 1 else 'their work was'} run again on fresh workers"
        )
    return out


def _client_pool(plan: RunPlan) -> ClientPool | None:
    """The plan's pool of model clients, if it made one.

    Imports the client stack only then: a run of local metrics never needs it.
    """
    pool = plan.services.get("clients")
    if pool is None:
        return None
    from evalcli.judge.client import ClientPool

    return pool if isinstance(pool, ClientPool) else None


def _usage(plan: RunPlan, agg: Aggregator) -> dict[str, Any]:
    """Token, call and cost totals: per evaluator, per client, and for the run.

    Client figures are what was actually spent (answers from the cache cost nothing);
    evaluator figures are what the evaluations consumed, cached or not.
    """
    per_eval: dict[str, dict[str, Any]] = {k: dict(v) for k, v in agg.token_usage().items()}
    pool = _client_pool(plan)
    clients: dict[str, dict[str, Any]] = {}
    if pool is not None:
        clients = {k: dict(v) for k, v in pool.usage().items()}
        for client in pool.clients.values():
            pricing = client.cfg.pricing
            if pricing is not None:
                clients[client.label]["cost"] = pricing.cost(
                    client.stats.prompt_tokens, client.stats.completion_tokens
                )
    for b in plan.evaluators:
        pricing = b.evaluator.pricing
        tokens = per_eval.get(b.alias)
        if pricing is not None and tokens is not None:
            tokens["cost"] = pricing.cost(tokens["prompt_tokens"], tokens["completion_tokens"])
    target_usage = plan.target.usage() if plan.target is not None else {}
    if plan.target is not None and plan.target.kind == "http" and target_usage:
        # (chat targets are pool clients already; python targets make no remote calls)
        clients[f"target {plan.target.kind}"] = {
            "prompt_tokens": 0,
            "completion_tokens": 0,
            **target_usage,
        }
    if not per_eval and not clients:
        return {}
    total: dict[str, Any] = {
        key: sum(v.get(key, 0) for v in clients.values())
        for key in ("calls", "cache_hits", "retries", "prompt_tokens", "completion_tokens")
    }
    costs = [v["cost"] for v in clients.values() if "cost" in v]
    if costs:
        total["cost"] = sum(costs)
    return {"evaluators": per_eval, "clients": clients, "total": total}


def _never_produced(plan: RunPlan, metrics: dict[str, float | None]) -> str | None:
    """Why a gate names a metric that never appeared, or None.

    Only possible for code evaluators whose keys are known at run time (validate accepts
    any ``<alias>.`` metric of theirs): the gate cannot be judged, so the run is a run error.
    """
    missing = [g.metric for g in plan.loaded.config.gates if g.metric not in metrics]
    if not missing:
        return None
    alias = missing[0].split(".", 1)[0]
    seen = [m for m in metrics if m.startswith(alias + ".")]
    return (
        f"gate on {missing[0]!r}: the evaluator {alias!r} never returned that key; its "
        f"metrics were: {', '.join(seen) or 'none'}"
    )


def _error_rate(agg: Aggregator) -> float:
    return agg.total_errors / agg.total_pairs if agg.total_pairs else 0.0


def _run_info(plan: RunPlan, started: datetime, duration: float, workers: int) -> RunInfo:
    finished = datetime.now(UTC)
    scan = plan.scan
    evaluators = {
        b.alias: EvaluatorRecord(
            use=b.use,
            family=b.evaluator.family,
            params=plan.loaded.scrub(b.evaluator.describe_params()),
            prompt_sha256=b.evaluator.prompt_sha256,
            judge=b.evaluator.judge_label,
        )
        for b in plan.evaluators
    }
    return RunInfo(
        name=plan.name,
        started_at=started.isoformat(timespec="milliseconds"),
        finished_at=finished.isoformat(timespec="milliseconds"),
        duration_s=round(duration, 3),
        evalcli_version=__version__,
        config_path=str(plan.loaded.path),
        config_sha256=plan.loaded.sha256,
        dataset=DatasetInfo(
            path=str(scan.path), format=scan.format, rows=scan.rows, sha256=scan.sha256
        ),
        evaluators=evaluators,
        workers=workers,
        max_error_rate=plan.max_error_rate,
    )
