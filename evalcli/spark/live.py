"""Live progress of a Spark run: what the tasks did so far, seen from the driver.

The driver makes no call and sees no row while the job runs, so its own counters stay at 0.
Each task adds its rows, failed evaluations, calls and cache hits to one Spark accumulator
(:class:`TaskCounts`, travelling in the :class:`~evalcli.spark.task.TaskSpec`), and a driver
thread (:func:`polling`) reads it every :data:`POLL_S` seconds while the Spark action runs,
calling the run's ``progress(done, total)`` callback as the local runner does.

Spark sends an accumulator update to the driver when a task *finishes*, so the numbers move
one finished partition at a time: more partitions, smoother progress. A task that Spark runs
again (a lost cache block recomputed) adds its rows again, so rows are clamped to the total;
once the job is done the driver replaces the live numbers with the committed tasks' exact
totals (:meth:`LiveCounts.finish`). Spark Connect has no accumulators: there the numbers
appear only at the end of the job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple, cast

if TYPE_CHECKING:
    from pyspark.accumulators import Accumulator
    from pyspark.sql import SparkSession

#: Seconds between two reads of the accumulator while the job runs.
POLL_S = 0.5


class TaskCounts(NamedTuple):
    """What the tasks did: rows written, failed evaluations (as ``run.max_error_rate``
    counts them), calls made and answers from the call cache."""

    rows: int = 0
    errors: int = 0
    calls: int = 0
    cached: int = 0

    def plus(self, other: tuple[int, ...]) -> TaskCounts:
        """These counts and ``other``'s, added field by field."""
        return TaskCounts(*(a + b for a, b in zip(self, other, strict=True)))


class _CountsParam:
    """Spark's AccumulatorParam protocol for :class:`TaskCounts` (duck-typed: pyspark is
    imported only by the code that runs Spark)."""

    def zero(self, value: TaskCounts) -> TaskCounts:
        return TaskCounts()

    def addInPlace(self, value1: TaskCounts, value2: TaskCounts) -> TaskCounts:  # noqa: N802
        return TaskCounts(*value1).plus(value2)


class LiveCounts:
    """The tasks' numbers so far, on the driver (all zero before :meth:`start`)."""

    def __init__(self) -> None:
        self._acc: Accumulator[TaskCounts] | None = None
        self._final: TaskCounts | None = None

    def start(self, session: SparkSession) -> Accumulator[TaskCounts] | None:
        """A new accumulator for one job (None on Spark Connect, which has none)."""
        self._final = None
        try:
            context = session.sparkContext
        except Exception:  # Spark Connect: no SparkContext
            self._acc = None
            return None
        self._acc = context.accumulator(TaskCounts(), cast(Any, _CountsParam()))
        return self._acc

    def finish(self, counts: TaskCounts) -> None:
        """The committed tasks' totals, read once the job is done: these replace the live
        numbers (which may count a re-executed task twice)."""
        self._final = counts

    def snapshot(self) -> TaskCounts:
        """The numbers so far."""
        if self._final is not None:
            return self._final
        if self._acc is None:
            return TaskCounts()
        return TaskCounts(*self._acc.value)

    def calls(self) -> tuple[int, int]:
        """(calls made, answers from the cache) so far: a progress display's call counter."""
        now = self.snapshot()
        return now.calls, now.cached

    def errors(self) -> int:
        """Failed evaluations so far."""
        return self.snapshot().errors


@contextmanager
def polling(
    counts: LiveCounts,
    total: int,
    progress: Callable[[int, int], None] | None,
    interval_s: float | None = None,
) -> Iterator[None]:
    """Call ``progress(rows done, total)`` every ``interval_s`` (default :data:`POLL_S`)
    from a thread, while the body (the Spark action) runs in the caller's.

    The callback is called even when the rows did not move, so a log display can print its
    periodic line during a long partition. Rows never go down nor past ``total``. The
    thread is stopped and joined on exit, before the caller's next progress call, so the
    callback is never called from two threads at once. A failing callback ends the polling
    silently: a progress display must not fail the run.
    """
    if progress is None:
        yield
        return
    stop = threading.Event()
    wait = POLL_S if interval_s is None else interval_s

    def poll() -> None:
        done = 0
        while not stop.wait(wait):
            try:
                done = max(done, min(counts.snapshot().rows, total))
                progress(done, total)
            except Exception:
                return

    thread = threading.Thread(target=poll, name="evalcli-spark-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
