"""``evalcli run`` and ``evalcli validate``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from evalcli.cli.boundary import eprint, error_boundary
from evalcli.errors import ConfigError, ExitCode
from evalcli.reporters.terminal import plural

if TYPE_CHECKING:
    from evalcli.plan import RunPlan
    from evalcli.results import RunResult
    from evalcli.spark.engine import SparkEngine


def run_command(
    config: Path,
    *,
    output_dir: Path | None,
    fmt: str,
    limit: int | None,
    concurrency: int | None,
    workers: int | None,
    quiet: bool,
    debug: bool,
    save_transcripts: Path | None = None,
    no_cache: bool = False,
    cache: Path | None = None,
    estimate: bool = False,
    target_tokens: int = 1024,
    junit: Path | None = None,
    step_summary: bool = True,
    artifact_name: str | None = None,
    engine: str | None = None,
) -> None:
    """Validate, run, render, exit with the run's code."""
    with error_boundary(debug):
        if fmt not in ("table", "json", "markdown"):
            raise ConfigError(f"--format must be 'table', 'json' or 'markdown', got {fmt!r}")
        if estimate and fmt == "markdown":
            raise ConfigError("--estimate prints a table or json, not markdown")
        from evalcli.api import run
        from evalcli.plan import PlanOptions
        from evalcli.reporters.console import print_summary
        from evalcli.reporters.progress import progress_for

        opts = PlanOptions(
            output_dir=output_dir,
            limit=limit,
            concurrency=concurrency,
            workers=workers,
            no_cache=no_cache,
            cache_path=cache,
        )
        from evalcli.api import validate

        if estimate:
            opts.check_output_dir = False
        # --estimate counts calls from the plan alone: the local engine's checks suffice.
        spark = None if estimate else spark_engine(config, engine, debug)
        if spark is not None and save_transcripts is not None:
            raise ConfigError("--save-transcripts is not available with the Spark engine")
        plan = validate(config, opts) if spark is None else spark.validate(opts)
        for warning in plan.warnings:
            eprint(f"warning: {warning}")
        if estimate:
            estimate_command(plan, fmt, target_tokens)
            return
        if junit is not None:
            from evalcli.reporters.junit import check_junit_path

            check_junit_path(junit)
        counts = spark.counts if spark is not None else None  # Spark: the tasks' numbers
        with (
            _startup_frozen(),
            progress_for(
                plan,
                quiet=quiet,
                calls=counts.calls if counts else None,
                errors=counts.errors if counts else None,
            ) as progress,
        ):
            if spark is not None:
                result, _ = spark.run(plan, progress=progress.update)
            else:
                result = run(
                    plan,
                    progress=progress.update,
                    on_row=progress.on_row,
                    transcripts=save_transcripts,
                )
        if fmt == "json":
            from evalcli.reporters.files import JSON_NAME

            with (plan.output_dir / JSON_NAME).open(encoding="utf-8") as fh:
                for chunk in iter(lambda: fh.read(1 << 16), ""):
                    sys.stdout.write(chunk)
            sys.stdout.flush()
        elif fmt == "markdown":
            from evalcli.reporters.markdown import run_markdown

            header = result.model_dump(mode="json", exclude={"rows", "output_dir"})
            sys.stdout.write(run_markdown(header, artifact=artifact_name))
            sys.stdout.flush()
        else:
            print_summary(result)
        for warning in result.warnings:
            eprint(f"warning: {warning}")
        if result.message:
            eprint(("error: " if result.exit_code >= 2 else "") + result.message)
        written = ["results.json", result.rows_parquet or "results.csv"]
        if (plan.output_dir / "report.html").is_file() and plan.loaded.config.output.html:
            written.append("report.html")
        eprint("results: " + ", ".join(str(plan.output_dir / name) for name in written))
        if result.tracked_at is not None:
            eprint(f"mlflow: {result.tracked_at}")
        code = ci_outputs(result, fmt, junit, step_summary, artifact_name)
        raise typer.Exit(code)


def spark_engine(config: Path, engine: str | None, debug: bool) -> SparkEngine | None:
    """The Spark engine when ``--engine spark`` or the config's ``engine.type`` asks for it."""
    if engine not in (None, "local", "spark"):
        raise ConfigError(f"--engine must be 'local' or 'spark', got {engine!r}")
    from evalcli.config import load_config

    # Unset ${env:NAME} are reported by the plan, all together, as locally.
    loaded = load_config(config, allow_unset=True)
    if (engine or loaded.config.engine.type) != "spark":
        return None
    from evalcli.spark.engine import SparkEngine

    return SparkEngine(loaded, debug=debug)


def ci_outputs(
    result: RunResult,
    fmt: str,
    junit: Path | None,
    step_summary: bool,
    artifact_name: str | None,
) -> int:
    """Write the JUnit file, append the GitHub step summary, print the runners' error
    annotations; returns the exit code (the run's, or 3 if the JUnit file failed).

    Annotations go to stdout, where the runners' documentation says commands are read,
    except with ``--format json|markdown``: stdout is then a document users redirect, so
    the lines go to stderr, which GitHub's runner and Azure's agent also scan.
    """
    from evalcli.reporters import ci_annotations, markdown

    code = result.exit_code
    header = result.model_dump(mode="json", exclude={"rows", "output_dir"})
    if junit is not None:
        from evalcli.reporters.junit import write_junit

        try:
            # From the header alone (it records run.max_error_rate), exactly as
            # `evalcli report --junit` writes it again from results.json.
            write_junit(header, junit)
        except OSError as exc:
            eprint(f"error: --junit: could not write {junit}: {exc.strerror or exc}")
            if code < int(ExitCode.USAGE):  # a worse outcome keeps its own code
                code = int(ExitCode.RUN_ERROR)
        else:
            eprint(f"junit: {junit}")
    if step_summary:
        try:
            path = markdown.append_step_summary(
                markdown.run_markdown(header, artifact=artifact_name)
            )
        except OSError as exc:
            eprint(f"warning: could not append to ${markdown.SUMMARY_ENV}: {exc}")
        else:
            if path is not None:
                eprint(f"step summary: appended to {path}")
    stream = sys.stdout if fmt == "table" else sys.stderr
    ci_annotations.emit(ci_annotations.run_annotations(header), stream)
    return code


@contextmanager
def _startup_frozen() -> Iterator[None]:
    """Keep what start-up built out of the cyclic collector's sight during the run.

    Modules, classes and the plan live until exit; the run's own objects come and go. Frozen,
    the former is not walked again by every full collection: ~40 ms of CPU in a 600-call
    judge run (issue 15). The console script froze its start-up already (``main``) and keeps
    it so until exit; a process that had frozen nothing (tests, a notebook running several
    evaluations) gets its heap back unfrozen, so that it still collects what runs leave.
    """
    import gc

    unfreeze = gc.get_freeze_count() == 0
    gc.freeze()
    try:
        yield
    finally:
        if unfreeze:
            gc.unfreeze()


def cache_command(action: str, path: Path) -> None:
    """``evalcli cache info|clear``."""
    with error_boundary():
        if not path.exists():
            print(f"no cache at {path}")
            return
        from evalcli.cache import CallCache

        cache = CallCache(path)
        try:
            if action == "clear":
                n = cache.clear()
                print(f"cleared {plural(n, 'cached answer')} from {path}")
                return
            info = cache.info()
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(info["by_kind"].items())) or "empty"
            print(
                f"{info['path']}: {plural(info['entries'], 'answer')} ({kinds}), "
                f"{info['bytes'] / 1e6:.1f} MB"
            )
        finally:
            cache.close()


def estimate_command(plan: RunPlan, fmt: str, target_tokens: int) -> None:
    """Print what a run would call and spend at most (nothing is called)."""
    import json

    from evalcli.cache import CallCache
    from evalcli.estimate import estimate

    cache = CallCache(plan.cache_path) if plan.cache_path and plan.cache_path.exists() else None
    try:
        report = estimate(plan, cache, target_tokens).as_dict()
    finally:
        if cache is not None:
            cache.close()
    if fmt == "json":
        print(json.dumps(report, indent=2))
        return
    from rich.table import Table

    from evalcli.reporters.terminal import print_fitted, stdout_console

    table = Table(
        title=f"estimate · {plan.name} · {plural(report['rows'], 'row')} (nothing was called)",
        title_justify="left",
    )
    for col in (
        "client",
        "calls",
        "already cached",
        "prompt tokens ≤",
        "completion tokens ≤",
        "cost ≤",
    ):
        table.add_column(col, justify="left" if col == "client" else "right")
    for label, c in report["clients"].items():
        cost = "—" if c["cost_max"] is None else f"{c['cost_max']:.4f}"
        table.add_row(
            label,
            str(c["calls"]),
            str(c["already_cached"]),
            f"{c['prompt_tokens_max']:,}",
            f"{c['completion_tokens_max']:,}",
            cost,
        )
    for label, n in report["other_calls"].items():
        table.add_row(label, str(n), "", "", "", "")
    t = report["total"]
    table.add_row(
        "total",
        str(t["calls"]),
        str(t["already_cached"]),
        f"{t['prompt_tokens_max']:,}",
        f"{t['completion_tokens_max']:,}",
        "—" if t["cost_max"] is None else f"{t['cost_max']:.4f}",
    )
    print_fitted(stdout_console(), table)
    for note in report["notes"]:
        eprint(f"note: {note}")
