"""The CLI's single error boundary: messages for users, tracebacks only with --debug."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from evalcli.errors import EvalcliError, ExitCode


def eprint(text: str) -> None:
    """Print to stderr (diagnostics never go to stdout)."""
    print(text, file=sys.stderr, flush=True)


@contextmanager
def error_boundary(debug: bool = False) -> Iterator[None]:
    """Turn exceptions into one message and the documented exit code."""
    try:
        yield
    except typer.Exit:
        raise
    except EvalcliError as exc:
        if debug:
            traceback.print_exc()
        eprint(exc.render())
        raise typer.Exit(int(exc.exit_code)) from None
    except KeyboardInterrupt:
        eprint("interrupted")
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except Exception:
        if debug:
            traceback.print_exc()
        else:
            exc_type, exc_value, _ = sys.exc_info()
            name = exc_type.__name__ if exc_type else "error"
            eprint(
                f"internal error, please report ({name}: {exc_value}); "
                "rerun with --debug for the traceback"
            )
        raise typer.Exit(int(ExitCode.INTERNAL)) from None
