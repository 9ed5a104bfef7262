"""Progress on stderr: a live bar on a terminal, plain lines everywhere else.

A CI log cannot redraw a bar, and a silent job for twenty minutes looks hung. Off a terminal
(stderr piped or redirected) :class:`LogProgress` prints one line each time another 10 % of
the rows is done, or when :data:`INTERVAL_ENV` seconds (15 by default) passed since the last
line, whichever comes first::

    progress: 300/1,000 rows (30%) · 600 calls (12 cached) · 2 errors · 0:45 elapsed · ETA 1:45

Rows, calls and errors are read from what a run already exposes: the runner's progress
callback (rows), the plan's clients' call counters, and ``on_row`` (errors), all called from
the runner's main thread, so no locking is needed here. On Spark the driver makes no call and
sees no row: the engine supplies its tasks' counters instead (``calls`` and ``errors`` of
:func:`progress_for`) and calls ``update`` from one polling thread while the job runs, never
from two threads at once.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Protocol

from evalcli.errors import RowError, UsageError
from evalcli.results import PartialOutcome, RowResult

if TYPE_CHECKING:
    from rich.console import Console

    from evalcli.plan import RunPlan

#: Environment variable: the longest silence between two progress lines, in seconds.
INTERVAL_ENV = "EVALCLI_PROGRESS_INTERVAL_S"
DEFAULT_INTERVAL_S = 15.0
STEPS = 10  # a line every time another tenth of the rows is done


class RunProgress(Protocol):
    """What ``evalcli run`` hands the runner: a progress callback and a per-row hook."""

    def update(self, done: int, total: int) -> None:
        """Rows done so far, of ``total``."""

    def on_row(self, row: RowResult) -> None:
        """One finished row, in input order."""

    def __enter__(self) -> RunProgress: ...

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None: ...


def interval_from_env(environ: Mapping[str, str] | None = None) -> float:
    """The longest silence between two lines (:data:`INTERVAL_ENV`, default 15 s).

    Raises:
        UsageError: the variable is set to something other than a positive number.
    """
    env = os.environ if environ is None else environ
    raw = env.get(INTERVAL_ENV, "").strip()
    if not raw:
        return DEFAULT_INTERVAL_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"must be a positive number of seconds, got {raw!r}", where=INTERVAL_ENV)
    return value


def call_counter(plan: RunPlan) -> Callable[[], tuple[int, int]]:
    """A function returning (calls made, answers from the cache) so far for ``plan``.

    Reads the counters the clients keep for ``results.json`` (judges, chat targets and
    Content Safety share one pool; an HTTP target counts its own calls).
    """

    def count() -> tuple[int, int]:
        counters: list[Mapping[str, Any]] = []
        usage = getattr(plan.services.get("clients"), "usage", None)
        if callable(usage):
            counters += list(usage().values())
        target = plan.target
        if target is not None and target.kind == "http":
            counters.append(target.usage())
        calls = sum(int(c.get("calls", 0)) for c in counters)
        cached = sum(int(c.get("cache_hits", 0)) for c in counters)
        return calls, cached

    return count


def row_errors(row: RowResult) -> int:
    """Failed evaluations in one row, counted as ``run.max_error_rate`` counts them."""
    n = 1 if row.target_error is not None else 0
    for outcome in row.outcomes.values():
        if isinstance(outcome, RowError):
            n += 1
        elif isinstance(outcome, PartialOutcome):
            n += len(outcome.member_errors)
    return n


def counts_text(calls: Callable[[], tuple[int, int]] | None, errors: int) -> list[str]:
    """``["12 calls (3 cached)", "1 error"]``: the calls part only when they are counted."""
    parts = []
    if calls is not None:
        made, cached = calls()
        parts.append(f"{made:,} call{'s' if made != 1 else ''}")
        if cached:
            parts[-1] += f" ({cached:,} cached)"
    parts.append(f"{errors:,} error{'s' if errors != 1 else ''}")
    return parts


class LogProgress:
    """Progress as plain lines (for logs): every 10 % of the rows or every ``interval_s``.

    Args:
        calls: Returns (calls made, answers from the cache); None leaves calls out.
        errors: Returns the failed evaluations so far; None counts them from ``on_row``.
        interval_s: Longest silence between two lines, in seconds.
        stream: Where lines go (default: stderr).
        clock: Monotonic clock (tests pass a fake one).
    """

    def __init__(
        self,
        calls: Callable[[], tuple[int, int]] | None = None,
        *,
        errors: Callable[[], int] | None = None,
        interval_s: float = DEFAULT_INTERVAL_S,
        stream: IO[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.calls = calls
        self.interval_s = interval_s
        self.stream = stream
        self.clock = clock
        self.errors = 0
        self._error_count = errors
        self._started = clock()
        self._last_line = self._started
        self._last_step = 0  # tenths of the rows already reported
        self._last_done = -1

    def on_row(self, row: RowResult) -> None:
        """Count the row's failed evaluations."""
        self.errors += row_errors(row)

    def update(self, done: int, total: int) -> None:
        """Print a line when another tenth of ``total`` is done or the interval has passed."""
        if total <= 0:
            return
        now = self.clock()
        step = done * STEPS // total
        if step <= self._last_step and now - self._last_line < self.interval_s:
            return
        if done == self._last_done and done >= total:
            return  # the runner's closing call repeats the 100 % line already printed
        self._last_step = max(step, self._last_step)
        self._last_line = now
        self._last_done = done
        self._print(self.line(done, total, now - self._started))

    def line(self, done: int, total: int, elapsed: float) -> str:
        """The progress line for ``done`` of ``total`` rows after ``elapsed`` seconds."""
        parts = [f"{done:,}/{total:,} rows ({done / total:.0%})"]
        errors = self.errors if self._error_count is None else self._error_count()
        parts += counts_text(self.calls, errors)
        parts.append(f"{clock_text(elapsed)} elapsed")
        if 0 < done < total:
            parts.append(f"ETA {clock_text(elapsed / done * (total - done))}")
        return "progress: " + " · ".join(parts)

    def _print(self, text: str) -> None:
        stream = self.stream or sys.stderr
        stream.write(text + "\n")
        stream.flush()

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


class _Silent:
    """``--quiet``: no progress at all."""

    def update(self, done: int, total: int) -> None:
        """Ignore progress."""

    def on_row(self, row: RowResult) -> None:
        """Ignore rows."""

    def __enter__(self) -> _Silent:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


class _Bar:
    """The Rich bar of :mod:`evalcli.reporters.console`, for a terminal: rows, then the calls
    and failed evaluations so far (what :class:`LogProgress` prints, read the same way)."""

    def __init__(
        self,
        calls: Callable[[], tuple[int, int]] | None = None,
        *,
        errors: Callable[[], int] | None = None,
        console: Console | None = None,
    ) -> None:
        from evalcli.reporters.console import Progress

        self._bar = Progress(enabled=True, console=console)
        self._calls = calls
        self._error_count = errors
        self.errors = 0

    def update(self, done: int, total: int) -> None:
        """Move the bar."""
        self._bar.update(done, total, status=self._status())

    def on_row(self, row: RowResult) -> None:
        """Count the row's failed evaluations."""
        self.errors += row_errors(row)

    def _status(self) -> str:
        errors = self.errors if self._error_count is None else self._error_count()
        return " · ".join(counts_text(self._calls, errors))

    def __enter__(self) -> _Bar:
        self._bar.__enter__()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._bar.__exit__(et, ev, tb)


def progress_for(
    plan: RunPlan,
    *,
    quiet: bool,
    terminal: bool | None = None,
    calls: Callable[[], tuple[int, int]] | None = None,
    errors: Callable[[], int] | None = None,
) -> RunProgress:
    """The progress display ``evalcli run`` uses: none with ``--quiet``, a bar on a terminal,
    lines in a log.

    ``calls`` and ``errors`` replace the plan's call counters and the failed evaluations
    counted from ``on_row``, for an engine whose rows and calls happen elsewhere (Spark).

    Raises:
        UsageError: :data:`INTERVAL_ENV` is set to something that is not a positive number.
    """
    interval = interval_from_env()  # checked even when quiet: a typo should not hide
    if quiet:
        return _Silent()
    if sys.stderr.isatty() if terminal is None else terminal:
        return _Bar(calls or call_counter(plan), errors=errors)
    return LogProgress(calls or call_counter(plan), errors=errors, interval_s=interval)


def clock_text(seconds: float) -> str:
    """``0:45``, ``12:03``, ``1:02:03`` (hours only when needed)."""
    s = max(0, round(seconds))
    hours, rest = divmod(s, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
