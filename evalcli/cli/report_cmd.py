"""``evalcli report``: write the self-contained HTML report of a run, or of a comparison.

:func:`register` adds the command to the Typer app; the page is built by
:mod:`evalcli.report`, imported only when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evalcli.cli.boundary import error_boundary


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
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks for internal errors.")
    ] = False,
) -> None:
    """Write a self-contained HTML report (no network needed to view it) and print its path."""
    with error_boundary(debug):
        from evalcli.report import write_report

        path = write_report(
            results_dir,
            output,
            compare=compare,
            pair_by=pair_by,
            variant_column=variant_column,
            baseline_variant=baseline_variant,
        )
        print(path)
