"""``evalcli nltk-data``: check and provision the NLTK data BLEU, GLEU and METEOR need.

A thin client of :mod:`evalcli.nltk_data` (``status``) and :mod:`evalcli.nltk_data.provision`
(``build``, ``download``). nltk, rich and the builder are imported inside the commands so that
mounting this sub-app costs ``evalcli --help`` nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

app = typer.Typer(
    name="nltk-data",
    help="Check and provision the NLTK data that BLEU, GLEU and METEOR need.",
    no_args_is_help=True,
    add_completion=False,
)

_TARGET_HELP = (
    "NLTK data directory to fill. Default: <sys.prefix>/share/nltk_data, which nltk searches "
    "without NLTK_DATA."
)
TargetOption = Annotated[
    Path | None, typer.Option("--target", help=_TARGET_HELP, file_okay=False, show_default=False)
]


@app.command()
def status() -> None:
    """Show where nltk finds each resource; exit 0 if all are usable, 2 otherwise."""
    from rich.table import Table

    from evalcli import nltk_data
    from evalcli.reporters.terminal import print_fitted, stdout_console

    statuses = nltk_data.status()
    import nltk.data

    searched = ", ".join(str(p) for p in nltk.data.path)
    table = Table(title="NLTK data", caption=f"nltk searches: {searched}")
    table.add_column("resource")
    table.add_column("nltk lookup")
    table.add_column("status")
    table.add_column("location / problem", overflow="fold")
    for s in statuses:
        verdict = (
            "[green]found[/]" if s.ok else "[red]refused[/]" if s.refused else "[red]missing[/]"
        )
        detail = s.location if s.ok else s.problem
        if s.ok and s.refused:  # usable, but nltk warns about these on every lookup
            detail = f"{detail} (refused: {', '.join(s.refused)})"
        table.add_row(s.name, s.lookup, verdict, detail or "")
    print_fitted(stdout_console(), table, names=("resource", "nltk lookup"))
    missing: list[str] = [
        nltk_data.MissingResource(s.name, s.problem or "", s.refused) for s in statuses if not s.ok
    ]
    if missing:
        _fail(f"NLTK data missing: {', '.join(missing)}", nltk_data.hint(missing))


@app.command()
def build(
    target: TargetOption = None,
    wordnet_dir: Annotated[
        Path,
        typer.Option("--wordnet-dir", help="Debian WordNet 3.0 files.", file_okay=False),
    ] = Path("/usr/share/wordnet"),
    wheel_dir: Annotated[
        Path | None,
        typer.Option(
            "--wheel-dir",
            help="Directory holding the llama-index-core and sacremoses wheels "
            "(missing ones are fetched with pip download).",
            file_okay=False,
        ),
    ] = None,
) -> None:
    """Build the data offline from PyPI and Debian packages (no nltk downloader)."""
    import time

    from evalcli import nltk_data
    from evalcli.errors import EvalcliError
    from evalcli.nltk_data import provision

    where = target or nltk_data.default_target()
    started = time.perf_counter()
    try:
        provision.build_offline(
            where, wordnet_dir=wordnet_dir, wheel_dir=wheel_dir, progress=_progress
        )
    except EvalcliError as exc:
        _fail(str(exc), exc.hint)
    _progress(f"done in {time.perf_counter() - started:.1f} s")
    _report_ready(where)


@app.command()
def download(target: TargetOption = None) -> None:
    """Download the data with nltk's own downloader (needs internet access)."""
    from evalcli import nltk_data
    from evalcli.errors import EvalcliError
    from evalcli.nltk_data import provision

    where = target or nltk_data.default_target()
    try:
        provision.download_online(where)
    except EvalcliError as exc:
        _fail(str(exc), exc.hint)
    _report_ready(where)


def _progress(message: str) -> None:
    typer.echo(message, err=True)


def _report_ready(target: Path) -> None:
    import nltk.data

    target = target.expanduser().absolute()
    typer.echo(f"NLTK data ready in {target}")
    if str(target) not in {str(Path(p).expanduser().absolute()) for p in nltk.data.path}:
        # A --target outside nltk's search path is only found through NLTK_DATA.
        typer.echo(f"nltk does not search it by default: export NLTK_DATA={target}", err=True)


def _fail(message: str, hint: str | None) -> NoReturn:
    # The project's error format (EvalcliError.render): one error line, an optional hint line.
    typer.echo(f"error: {message}", err=True)
    if hint:
        typer.echo(f"hint: {hint}", err=True)
    raise typer.Exit(2)
