"""``evalcli compare``: two runs, or the variants of one run, with paired statistics.

:func:`register` adds the command to the Typer app; the statistics live in
:mod:`evalcli.compare`, imported only when the command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from evalcli.cli.boundary import eprint, error_boundary

FORMATS = ("table", "json", "markdown")

ResultsArg = Annotated[
    Path,
    typer.Argument(
        help="Baseline results.json (or its directory); with --pair-by, the one run to check.",
        show_default=False,
    ),
]
CandidateArg = Annotated[
    Path | None,
    typer.Argument(help="Candidate results.json (or its directory).", show_default=False),
]


def register(app: typer.Typer) -> None:
    """Add ``compare`` to ``app``."""
    app.command("compare")(compare_cmd)


def compare_cmd(
    baseline: ResultsArg,
    candidate: CandidateArg = None,
    fail_on_regression: Annotated[
        bool,
        typer.Option(
            "--fail-on-regression",
            help="Exit 1 when a metric got significantly worse by at least --min-effect.",
        ),
    ] = False,
    min_effect: Annotated[
        float,
        typer.Option(
            "--min-effect",
            min=0.0,
            help="Smallest worsening that counts as a regression, in metric units "
            "(0.05 = 5 points of a rate).",
        ),
    ] = 0.0,
    pair_by: Annotated[
        str | None,
        typer.Option("--pair-by", help="One-run mode: the column that groups rows into pairs."),
    ] = None,
    variant_column: Annotated[
        str | None,
        typer.Option("--variant-column", help="One-run mode: the column naming each variant."),
    ] = None,
    baseline_variant: Annotated[
        str | None,
        typer.Option(
            "--baseline-variant", help="One-run mode: the reference variant (default: first)."
        ),
    ] = None,
    id_column: Annotated[
        str | None,
        typer.Option(
            "--id-column",
            help="Column matching rows of the two runs (default: id if every row has a "
            "unique one, else line).",
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="stdout format: table, json or markdown.")
    ] = "table",
    allow_mismatch: Annotated[
        bool,
        typer.Option(
            "--allow-mismatch",
            help="Compare runs whose evaluators, prompts or judges differ (with a warning).",
        ),
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed.")] = 0,
    resamples: Annotated[
        int,
        typer.Option("--resamples", min=100, max=1_000_000, help="Bootstrap resamples."),
    ] = 2000,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks for internal errors.")
    ] = False,
) -> None:
    """Compare two runs (or variants of one run): differences, 95% intervals, exact tests."""
    compare_command(
        baseline,
        candidate,
        fail_on_regression=fail_on_regression,
        min_effect=min_effect,
        pair_by=pair_by,
        variant_column=variant_column,
        baseline_variant=baseline_variant,
        id_column=id_column,
        fmt=fmt,
        allow_mismatch=allow_mismatch,
        seed=seed,
        resamples=resamples,
        debug=debug,
    )


def compare_command(
    baseline: Path,
    candidate: Path | None,
    *,
    fail_on_regression: bool = False,
    min_effect: float = 0.0,
    pair_by: str | None = None,
    variant_column: str | None = None,
    baseline_variant: str | None = None,
    id_column: str | None = None,
    fmt: str = "table",
    allow_mismatch: bool = False,
    seed: int = 0,
    resamples: int = 2000,
    debug: bool = False,
) -> None:
    """Check the options, compare, render, and exit 0, 1 (regression) or 2 (bad input)."""
    with error_boundary(debug):
        from evalcli.compare import CompareError, CompareOptions, compare_runs, compare_variants

        if fmt not in FORMATS:
            raise CompareError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        options = CompareOptions(
            resamples=resamples,
            seed=seed,
            min_effect=min_effect,
            id_column=id_column,
            allow_mismatch=allow_mismatch,
        )
        one_run = pair_by is not None or variant_column is not None
        if one_run:
            if pair_by is None or variant_column is None:
                raise CompareError("one-run mode needs both --pair-by and --variant-column")
            if candidate is not None:
                raise CompareError(
                    "--pair-by compares variants inside one run; give a single results file",
                    hint="drop --pair-by/--variant-column to compare two runs",
                )
            if id_column is not None:
                raise CompareError("--id-column pairs two runs; with --pair-by it has no use")
            report = compare_variants(
                baseline,
                pair_by=pair_by,
                variant_column=variant_column,
                baseline_variant=baseline_variant,
                options=options,
            )
        else:
            if candidate is None:
                raise CompareError(
                    "give a baseline and a candidate results file",
                    hint="or check one run's variants with --pair-by COL --variant-column COL",
                )
            if baseline_variant is not None:
                raise CompareError("--baseline-variant needs --pair-by and --variant-column")
            report = compare_runs(baseline, candidate, options)

        for warning in report.warnings:
            eprint(f"warning: {warning}")
        from evalcli.compare.render import print_table, to_json, to_markdown

        if fmt == "json":
            sys.stdout.write(to_json(report))
        elif fmt == "markdown":
            sys.stdout.write(to_markdown(report))
        else:
            print_table(report)
        sys.stdout.flush()
        failed = fail_on_regression and report.has_regression
        if failed:
            from evalcli.reporters.terminal import plural

            eprint(
                f"error: {plural(len(report.regressions), 'regression')}: "
                + ", ".join(report.regressions)
            )
            from evalcli.reporters.ci_annotations import emit, regression_annotations

            # stdout is where CI runners read commands, unless it holds a json/markdown document
            emit(regression_annotations(report), sys.stdout if fmt == "table" else sys.stderr)
        raise typer.Exit(1 if failed else 0)
