"""The CLI's single error boundary: messages for users, tracebacks only with --debug.

It ends the process with ``SystemExit(code)``, which Typer (Click) lets through unchanged,
rather than ``typer.Exit``: the plain ``evalcli validate`` runs without importing Typer.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from evalcli.errors import EvalcliError, ExitCode


def eprint(text: str) -> None:
    """Print to stderr (diagnostics never go to stdout)."""
    print(text, file=sys.stderr, flush=True)


@contextmanager
def error_boundary(debug: bool = False) -> Iterator[None]:
    """Turn exceptions into one message and the documented exit code."""
    try:
        yield
    except EvalcliError as exc:
        if debug:
            traceback.print_exc()
        eprint(exc.render())
        raise SystemExit(int(exc.exit_code)) from None
    except KeyboardInterrupt:
        eprint("interrupted")
        raise SystemExit(int(ExitCode.INTERRUPTED)) from None
    except Exception as exc:
        if _is_typer_exit(exc):  # a command's own typer.Exit(code) is its exit code
            raise
        if debug:
            traceback.print_exc()
        else:
            exc_type, exc_value, _ = sys.exc_info()
            name = exc_type.__name__ if exc_type else "error"
            eprint(
                f"internal error, please report ({name}: {exc_value}); "
                "rerun with --debug for the traceback"
            )
        raise SystemExit(int(ExitCode.INTERNAL)) from None


def _is_typer_exit(exc: Exception) -> bool:
    """Whether ``exc`` is Typer's (Click's) ``Exit``; never imports Typer to find out."""
    typer = sys.modules.get("typer")
    return typer is not None and isinstance(exc, typer.Exit)
