"""The ``evalcli`` commands (Typer). Commands parse options, call the library, render.

Heavy modules (nltk, openai, rich tables) are imported inside the commands so that
``evalcli --help`` stays fast. The console script's entry point is :func:`evalcli.cli.main`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evalcli._version import __version__
from evalcli.cli.lazy_params import install as _install_lazy_params

_install_lazy_params()  # an absent option must not import pydantic (see lazy_params)

app = typer.Typer(
    name="evalcli",
    help="Evaluate generative-AI applications and models from one YAML file.\n\n"
    "Exit codes: 0 ok, 1 a gate failed, 2 bad input (nothing ran), 3 run error, "
    "4 internal error, 130 interrupted.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        print(f"evalcli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Evaluate generative-AI applications and models from one YAML file."""


ConfigArg = Annotated[Path, typer.Argument(help="Run config (YAML).", show_default=False)]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks for internal errors.")]


@app.command("run")
def run_cmd(
    config: ConfigArg,
    output_dir: Annotated[
        Path | None,
        typer.Option("--output-dir", "-o", help="Write results here (overrides output.dir)."),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="stdout format: table (Rich summary), json (results.json) or markdown.",
        ),
    ] = "table",
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Evaluate only the first N rows.")
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-c",
            min=1,
            max=1024,
            help="Concurrent evaluations (overrides run.concurrency).",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", min=0, max=64, help="Processes for CPU-bound metrics (0 = in-process)."
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress (bar or log lines).")
    ] = False,
    save_transcripts: Annotated[
        Path | None,
        typer.Option("--save-transcripts", help="Write every judge request and answer (JSONL)."),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Neither read nor write the call cache.")
    ] = False,
    cache: Annotated[
        Path | None, typer.Option("--cache", help="Call cache file (default .evalcli/cache.db).")
    ] = None,
    estimate: Annotated[
        bool,
        typer.Option(
            "--estimate", help="Only count calls and bound tokens and cost; call nothing."
        ),
    ] = False,
    target_tokens: Annotated[
        int,
        typer.Option(
            "--target-tokens",
            min=1,
            help="With --estimate: assumed max tokens of each HTTP/Python target output.",
        ),
    ] = 1024,
    junit: Annotated[
        Path | None,
        typer.Option("--junit", help="Also write a JUnit XML report here (gates, evaluators)."),
    ] = None,
    no_step_summary: Annotated[
        bool,
        typer.Option("--no-step-summary", help="Do not append a summary to $GITHUB_STEP_SUMMARY."),
    ] = False,
    artifact_name: Annotated[
        str | None,
        typer.Option(
            "--artifact-name",
            envvar="EVALCLI_ARTIFACT_NAME",
            help="CI artifact (name or URL) holding the results, linked from the step summary.",
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            help="Where to run: local (this process) or spark (default: the config's engine).",
        ),
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Run an evaluation and exit with a CI-friendly code."""
    from evalcli.cli.run_cmd import run_command

    run_command(
        config,
        save_transcripts=save_transcripts,
        no_cache=no_cache,
        cache=cache,
        estimate=estimate,
        target_tokens=target_tokens,
        output_dir=output_dir,
        fmt=fmt,
        limit=limit,
        concurrency=concurrency,
        workers=workers,
        quiet=quiet,
        debug=debug,
        junit=junit,
        step_summary=not no_step_summary,
        artifact_name=artifact_name,
        engine=engine,
    )


@app.command("validate")
def validate_cmd(config: ConfigArg, debug: DebugOpt = False) -> None:
    """Check a config, its dataset, mappings and resources without calling any model."""
    from evalcli.cli.validate_cmd import validate_command

    validate_command(config, debug=debug)


@app.command("list-evaluators")
def list_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    config: Annotated[
        Path | None, typer.Option("--config", help="Also show evaluators declared in this config.")
    ] = None,
) -> None:
    """List available evaluators: name, family, inputs, outputs, default threshold."""
    from evalcli.cli.list_cmd import list_command

    list_command(as_json=as_json, config=config)


cache_app = typer.Typer(help="Inspect or empty the call cache.", no_args_is_help=True)
CacheOpt = Annotated[Path, typer.Option("--cache", help="Cache file.", show_default=True)]


@cache_app.command("info")
def cache_info(cache: CacheOpt = Path(".evalcli/cache.db")) -> None:
    """Show the cache file, its entries per kind and its size."""
    from evalcli.cli.run_cmd import cache_command

    cache_command("info", cache)


@cache_app.command("clear")
def cache_clear(cache: CacheOpt = Path(".evalcli/cache.db")) -> None:
    """Delete every cached answer."""
    from evalcli.cli.run_cmd import cache_command

    cache_command("clear", cache)


def _mount_subcommands() -> None:
    from evalcli.cli.compare_cmd import register as register_compare
    from evalcli.cli.nltk_cmd import app as nltk_app
    from evalcli.cli.report_cmd import register as register_report
    from evalcli.cli.simulate_cmd import register as register_simulate

    register_compare(app)
    register_report(app)
    register_simulate(app)
    app.add_typer(cache_app, name="cache")

    app.add_typer(
        nltk_app, name="nltk-data", help="Check or provision the NLTK data BLEU/GLEU/METEOR need."
    )


_mount_subcommands()
