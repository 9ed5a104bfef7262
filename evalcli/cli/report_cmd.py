"""``evalcli report``: write the self-contained HTML report of a run, or of a comparison.

:func:`register` adds the command to the Typer app; the page is built by
:mod:`evalcli.report`, imported only when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evalcli.cli.boundary import eprint, error_boundary
from evalcli.errors import UsageError


def register(app: typer.Typer) -> None:
    """Add ``report`` to ``app``."""
    app.command("report")(report_cmd)


def report_cmd(
    results_dir: Annotated[
        Path,
        typer.Argument(help="A run's output directory (or its results.json).", show_default=False),
    ],
    compare: Annotated[
        Path | None,
        typer.Option(
            "--compare",
            help="Baseline run (directory or results.json): add a forest plot of paired "
            "differences, McNemar p-values and regressions.",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write here (default: report.html beside results.json; compare.html with "
            "--compare or --pair-by).",
        ),
    ] = None,
    pair_by: Annotated[
        str | None,
        typer.Option(
            "--pair-by", help="One-run variant view: the column grouping rows into pairs."
        ),
    ] = None,
    variant_column: Annotated[
        str | None,
        typer.Option("--variant-column", help="One-run variant view: the column naming variants."),
    ] = None,
    baseline_variant: Annotated[
        str | None,
        typer.Option(
            "--baseline-variant",
            help="One-run variant view: the reference variant (default: first).",
        ),
    ] = None,
    max_asr: Annotated[
        float | None,
        typer.Option(
            "--max-asr",
            min=0.0,
            max=1.0,
            help="Red-team runs (rows tagged by `evalcli simulate`): mark the techniques whose "
            "attack success rate is above this in the scorecard (0.05 = 5%).",
            show_default=False,
        ),
    ] = None,
    junit: Annotated[
        Path | None,
        typer.Option(
            "--junit",
            help="Also write the run's JUnit XML report here, as `run --junit` wrote it.",
        ),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks for internal errors.")
    ] = False,
) -> None:
    """Write a self-contained HTML report (no network needed to view it) and print its path."""
    with error_boundary(debug):
        from evalcli.report import write_report

        if junit is not None:
            _write_junit(results_dir, junit)
        path = write_report(
            results_dir,
            output,
            compare=compare,
            pair_by=pair_by,
            variant_column=variant_column,
            baseline_variant=baseline_variant,
            max_asr=max_asr,
        )
        print(path)


def _write_junit(results_dir: Path, path: Path) -> None:
    """The JUnit file of the run in ``results_dir``, from its results.json header alone
    (the file records ``run.max_error_rate``), so it equals the one ``run --junit`` wrote."""
    from evalcli.report.load import ResultsStream
    from evalcli.reporters.junit import check_junit_path, write_junit

    check_junit_path(path)
    header = ResultsStream(results_dir).header
    try:
        write_junit(header, path)
    except OSError as exc:
        raise UsageError(
            f"could not write {path} ({exc.strerror or exc})", where="--junit"
        ) from None
    eprint(f"junit: {path}")
