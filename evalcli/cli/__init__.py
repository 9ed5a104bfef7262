"""The ``evalcli`` command line: the console script's entry point.

The commands themselves are a Typer application (:mod:`evalcli.cli.commands`, also reachable
as ``evalcli.cli.app``). :func:`main` sends every command line there, except the plainest
form of ``evalcli validate``, which it runs directly (see :func:`_plain_validate`).
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalcli.cli.commands import app as app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    # A reader that stops reading (`| head`) must not turn a finished evaluation into an
    # internal error: output it can no longer receive is dropped (see stdout_guard).
    from evalcli.cli.stdout_guard import install as guard_stdout

    guard_stdout()
    # In this process nltk serves evalcli alone: import it without the SciPy and
    # scikit-learn integrations evalcli never calls (see evalcli.nltk_import).
    from evalcli.nltk_import import use_lean_import

    use_lean_import()
    # Nor does it need importlib.metadata's scan for pydantic plugins when none is installed.
    from evalcli.cli.pydantic_plugins import install as defer_pydantic_plugins

    defer_pydantic_plugins()
    # Start-up is most of the quick commands' time (issue 15, part 2). The objects made so
    # far (modules, Typer's app) live as long as the process: freezing them spares every
    # later pass of the cyclic garbage collector, and the one at exit, from walking them.
    gc.freeze()
    # `validate` only reads: while it runs (mostly importing pydantic and building the
    # config models: long-lived objects, no cyclic garbage) the collector has nothing to
    # free, and at exit nothing of it needs finalizing; its passes cost ~15 ms. Commands
    # that write files keep the collector, and the pass at exit, as they were.
    short_lived = sys.argv[1:2] == ["validate"]
    if short_lived:
        gc.disable()
    try:
        plain = _plain_validate(sys.argv[1:])
        if plain is not None:
            from evalcli.cli.validate_cmd import validate_command

            validate_command(plain[0], debug=plain[1])
            return
        from evalcli.cli.commands import app

        app(prog_name="evalcli")
    finally:
        if short_lived:
            gc.freeze()


def _plain_validate(args: list[str]) -> tuple[Path, bool] | None:
    """``(config, debug)`` when ``args`` is ``validate CONFIG`` with at most ``--debug``.

    Why bypass Typer for it: `evalcli validate` gates CI pipelines and editor hooks, where
    start-up is nearly all of its time, and importing Typer and building the application is
    ~20 ms of ~190 (issue 15 asks for 1/8 of the reference SDK's bare import). Only the forms
    Typer would parse to exactly these two values are taken: one operand that cannot be an
    option, and ``--debug`` before or after it. Anything else (``--help``, a missing or
    extra operand, an unknown option, ``--``) goes to Typer, which parses or rejects it as
    it always did. ``tests/test_cli_validate_fastpath.py`` holds both paths to the same
    output and exit code.
    """
    if not args or args[0] != "validate":
        return None
    rest = args[1:]
    debug = "--debug" in rest
    if debug:
        rest = [a for a in rest if a != "--debug"]
        if len(rest) != len(args) - 2:  # --debug given twice: Typer's business
            return None
    if len(rest) != 1 or not rest[0] or rest[0].startswith("-"):
        return None
    return Path(rest[0]), debug


def __getattr__(name: str) -> Any:
    """``evalcli.cli.app``: the Typer application, imported on first use."""
    if name == "app":
        from evalcli.cli.commands import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
