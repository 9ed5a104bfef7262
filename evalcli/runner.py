"""Execute a run plan: target calls and (row x evaluator) tasks, ordered results, bounded memory.

The runner decides what runs where and when; the limits it runs under are set elsewhere (the
size of the thread pool comes from the plan, which adds up the judges' ``concurrency``; each
remote client caps its own calls in flight; :mod:`evalcli.workers` owns the worker processes).
The scheduling:

* CPU-bound evaluators (``execution = "cpu"``: the NLP metrics) run in batches of rows in a
  pool of forked worker processes — threads cannot use a second core because of the GIL. The
  parent warms every evaluator (loads tokenizers and WordNet) *before* forking, so workers
  share those tables copy-on-write instead of each loading them again.
* I/O-bound evaluators (judge calls) run in a thread pool sized by the judges' concurrency.
* The target (the app under test) has its own thread pool (``target.concurrency``). A row's
  evaluators that read ``${target.…}`` start as soon as that row's target answer arrives; the
  others start at once. There is no barrier between a "target phase" and a "judge phase".
* The main thread reads rows, dispatches tasks, collects outcomes from one queue and emits
  rows to the sink strictly in input order. At most ``window`` rows are in flight, which
  bounds memory however large the dataset is.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from evalcli.conversation import evaluate_conversation
from evalcli.dataset import Row
from evalcli.errors import RemoteError, RowError
from evalcli.evaluators.context import EvalContext
from evalcli.plan import BoundEvaluator, RunPlan
from evalcli.results import Outcome, RowResult
from evalcli.tasks import (
    WORKER_EVALUATORS,
    CpuBatch,
    CpuResult,
    CpuWork,
    conversation_of,
    evaluate_safely,
    merge_members,
    resolve_inputs,
    run_cpu_batch,
)
from evalcli.workers import CpuPool

CPU_BATCH_ROWS = 32
INLINE_CPU_BELOW = 256  # (row x cpu evaluator) pairs: below this, forking costs more than it saves


class RowSink(Protocol):
    """Receives finished rows in input order."""

    def write(self, row: RowResult) -> None:
        """Accept one finished row."""


ProgressFn = Callable[[int, int], None]


@dataclass
class RunStats:
    """How the execution went (the aggregator holds the numbers)."""

    rows_done: int = 0
    interrupted: bool = False
    fatal: RemoteError | None = None
    worker_deaths: int = 0
    workers: int = 0  # worker processes used for CPU-bound evaluators (0: in-process)
    abandoned_calls: int = 0  # calls of user code that passed their timeout_s
    still_running: int = 0  # of all abandoned calls in this process, those not yet returned


@dataclass
class _RowState:
    result: RowResult
    pending: int
    parts: dict[str, list[Outcome | None]] = field(default_factory=dict)


class Runner:
    """Runs a :class:`RunPlan` and streams finished rows to ``sink``.

    Args:
        plan: The validated plan.
        sink: Receives rows in input order.
        progress: Called with (rows done, rows total) from the main thread.
        should_stop: Polled between batches of work; True stops the run as interrupted.
        rows: The rows to run (default: the plan's dataset), in ascending line order and
            without gaps from ``first_line`` on (a Spark task runs one range of lines).
        first_line: Line of the first row in ``rows``.
    """

    def __init__(
        self,
        plan: RunPlan,
        sink: RowSink,
        progress: ProgressFn | None = None,
        should_stop: Callable[[], bool] | None = None,
        rows: Iterable[Row] | None = None,
        first_line: int = 1,
    ):
        self.plan = plan
        self._rows = rows
        self._first_line = first_line
        self.sink = sink
        self.progress = progress
        self.should_stop = should_stop or (lambda: False)
        self.bound = plan.evaluators
        self.target = plan.target
        self.cpu = [
            b for b in self.bound if b.evaluator.execution == "cpu" and not b.evaluator.members
        ]
        self._cpu_index = {b.alias: i for i, b in enumerate(self.cpu)}
        self._by_alias = {b.alias: b for b in self.bound}
        # Evaluators that read the target's outputs wait for it; the others start at once.
        self._after_target = [
            b for b in self.bound if any(r.source == "target" for r in b.refs.values())
        ]
        self._at_once = [b for b in self.bound if b not in self._after_target]
        self._queue: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._outstanding = 0  # submitted async items not yet received from the queue
        self._states: dict[int, _RowState] = {}
        self._ready: dict[int, RowResult] = {}
        self._batch: CpuBatch = []
        self._pool: CpuPool | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._target_threads: ThreadPoolExecutor | None = None

    # -- main loop -------------------------------------------------------------------------

    def run(self) -> RunStats:
        """Execute every row; returns when all rows were emitted, or on a fatal error."""
        stats = RunStats()
        total = self.plan.scan.rows
        self._pool = self._start_process_pool(total)
        stats.workers = self._pool.size if self._pool is not None else 0
        if any(
            b.evaluator.execution != "cpu" or b.evaluator.members or b.conversation
            for b in self.bound
        ):
            self._threads = ThreadPoolExecutor(
                max_workers=max(1, self.plan.io_threads), thread_name_prefix="evalcli-io"
            )
        if self.target is not None:
            self._target_threads = ThreadPoolExecutor(
                max_workers=max(1, self.target.concurrency), thread_name_prefix="evalcli-target"
            )
        in_flight = max(self.plan.io_threads, self.target.concurrency if self.target else 0)
        window = max(256, 4 * in_flight, 4 * CPU_BATCH_ROWS * max(1, self.plan.workers))
        rows: Iterator[Row] = iter(self.plan.dataset.rows() if self._rows is None else self._rows)
        exhausted = False
        next_emit = self._first_line
        last_progress = 0.0
        try:
            while True:
                if self.should_stop():
                    stats.interrupted = True
                    break
                while not exhausted and len(self._states) + len(self._ready) < window:
                    try:
                        row = next(rows)
                    except StopIteration:
                        exhausted = True
                        break
                    self._dispatch(row)
                    if len(self._batch) >= CPU_BATCH_ROWS:
                        self._flush_batch()
                if self._batch and (
                    exhausted or self._busy() == 0 or len(self._states) + len(self._ready) >= window
                ):
                    self._flush_batch()
                while next_emit in self._ready:
                    self.sink.write(self._ready.pop(next_emit))
                    next_emit += 1
                    stats.rows_done += 1
                now = time.monotonic()
                if self.progress and now - last_progress > 0.1:
                    self.progress(stats.rows_done, total)
                    last_progress = now
                if exhausted and not self._states and not self._ready:
                    break
                if self._busy() == 0:
                    continue  # everything dispatched so far finished inline: feed more rows
                try:
                    item = self._queue.get(timeout=0.5)
                except queue.Empty:
                    continue
                while True:
                    fatal = self._receive(*item)
                    if fatal is not None:
                        stats.fatal = fatal
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                if stats.fatal is not None:
                    break
        except KeyboardInterrupt:
            stats.interrupted = True
        finally:
            if self.progress:
                self.progress(stats.rows_done, total)
            abrupt = stats.interrupted or stats.fatal is not None
            for pool in (self._target_threads, self._threads):
                if pool is not None:
                    pool.shutdown(wait=not abrupt, cancel_futures=True)
            if self._pool is not None:
                self._pool.close(kill=abrupt)
                stats.worker_deaths = self._pool.stats.deaths
            WORKER_EVALUATORS.clear()
        return stats

    def _busy(self) -> int:
        """Work submitted and not yet received back on the queue."""
        return self._outstanding + (self._pool.unfinished if self._pool is not None else 0)

    def _receive(self, kind: str, payload: Any) -> RemoteError | None:
        """Apply one item from the completion queue; returns a fatal error if it is one."""
        if kind == "pool":
            assert self._pool is not None
            self._apply_cpu(self._pool.handle(payload))
            return None
        if kind == "inline":
            assert self._pool is not None
            self._pool.inline_unread -= 1
            self._apply_cpu(payload)
            return None
        self._outstanding -= 1
        if kind == "target":
            line, outcome = payload
            if isinstance(outcome, RemoteError):
                return outcome
            self._target_done(line, outcome)
            return None
        line, alias, outcome, member = payload
        if isinstance(outcome, RemoteError):
            return outcome
        self._settle(line, alias, outcome, member)
        return None

    # -- dispatch --------------------------------------------------------------------------

    def _dispatch(self, row: Row) -> None:
        pending = sum(len(b.evaluator.members) or 1 for b in self.bound)
        state = _RowState(RowResult(row.line, row.data), pending + (self.target is not None))
        self._states[row.line] = state
        if self.target is not None:
            assert self._target_threads is not None
            self._outstanding += 1
            self._target_threads.submit(self._run_target, row.line, row.data)
        self._dispatch_evaluators(
            row.line, row.data, None, self._at_once if self.target is not None else self.bound
        )

    def _dispatch_evaluators(
        self,
        line: int,
        data: dict[str, Any],
        target: dict[str, Any] | None,
        bounds: list[BoundEvaluator],
    ) -> None:
        work: CpuWork = []
        for b in bounds:
            members = b.evaluator.members
            conv = conversation_of(b, data, target)
            if isinstance(conv, RowError):
                if members:
                    self._states[line].parts[b.alias] = [None] * len(members)
                    for mi in range(len(members)):
                        self._settle(line, b.alias, conv, mi)
                else:
                    self._settle(line, b.alias, conv)
                continue
            if members:
                # Composite: every member is its own task; results merge under one alias.
                self._states[line].parts[b.alias] = [None] * len(members)
                for mi, member in enumerate(members):
                    if conv is not None:
                        self._submit_conversation(line, b, conv, mi)
                        continue
                    m_inputs = resolve_inputs(b, data, target, member)
                    if isinstance(m_inputs, RowError):
                        self._settle(line, b.alias, m_inputs, mi)
                    else:
                        self._submit_io(line, b, m_inputs, mi)
                continue
            if conv is not None:
                self._submit_conversation(line, b, conv)
                continue
            inputs = resolve_inputs(b, data, target)
            if isinstance(inputs, RowError):
                self._settle(line, b.alias, inputs)
            elif b.evaluator.execution == "cpu":
                work.append((self._cpu_index[b.alias], inputs))
            else:
                self._submit_io(line, b, inputs)
        if work:
            self._batch.append((line, work))

    def _submit_io(
        self, line: int, b: BoundEvaluator, inputs: dict[str, Any], member: int | None = None
    ) -> None:
        assert self._threads is not None
        self._outstanding += 1
        self._threads.submit(self._run_io, line, b, inputs, member)

    def _submit_conversation(
        self, line: int, b: BoundEvaluator, conversation: Any, member: int | None = None
    ) -> None:
        # Conversations run in the thread pool whatever the evaluator's kind: their turns are
        # evaluated one after another and aggregated in one task.
        assert self._threads is not None
        self._outstanding += 1
        self._threads.submit(self._run_conversation, line, b, conversation, member)

    def _run_conversation(
        self, line: int, b: BoundEvaluator, conversation: Any, member: int | None
    ) -> None:
        ev = b.evaluator if member is None else b.evaluator.members[member]
        try:
            outcome: Outcome | RemoteError = evaluate_conversation(
                ev,
                conversation,
                line,
                evaluate_safely,
                aggregation=b.spec.aggregation,
                last_turn_only=b.spec.eval_last_turn,
            )
        except RemoteError as exc:
            outcome = exc
        except Exception as exc:  # never let one row's conversation take the run down
            outcome = RowError("evaluator-exception", f"{type(exc).__name__}: {exc}")
        self._queue.put(("io", (line, b.alias, outcome, member)))

    def _flush_batch(self) -> None:
        todo, self._batch = self._batch, []
        if self._pool is None:
            self._apply_cpu(self._run_inline(todo))
            return
        self._pool.submit(todo)

    def _run_inline(self, batch: CpuBatch) -> CpuResult:
        return run_cpu_batch(batch, [b.evaluator for b in self.cpu])

    # -- workers (threads) -----------------------------------------------------------------

    def _run_io(
        self, line: int, b: BoundEvaluator, inputs: dict[str, Any], member: int | None
    ) -> None:
        ev = b.evaluator if member is None else b.evaluator.members[member]
        try:
            outcome: Outcome | RemoteError = evaluate_safely(ev, inputs, EvalContext(line))
        except RemoteError as exc:
            outcome = exc
        self._queue.put(("io", (line, b.alias, outcome, member)))

    def _run_target(self, line: int, data: dict[str, Any]) -> None:
        assert self.target is not None
        try:
            outcome: dict[str, Any] | RowError | RemoteError = self.target.call(data, line)
        except (RowError, RemoteError) as exc:
            outcome = exc
        except Exception as exc:  # a bug in a target implementation: isolate it to the row
            outcome = RowError("target-exception", f"{type(exc).__name__}: {exc}")
        self._queue.put(("target", (line, outcome)))

    # -- completion ------------------------------------------------------------------------

    def _target_done(self, line: int, outcome: dict[str, Any] | RowError) -> None:
        state = self._states[line]
        if isinstance(outcome, RowError):
            state.result.target_error = outcome
            skipped = RowError("target-error", f"skipped: the target call failed ({outcome.kind})")
            for b in self._after_target:
                n = len(b.evaluator.members)
                if n:
                    state.parts[b.alias] = [None] * n
                    for mi in range(n):
                        self._settle(line, b.alias, skipped, mi)
                else:
                    self._settle(line, b.alias, skipped)
        else:
            state.result.target = outcome
            self._dispatch_evaluators(line, state.result.data, outcome, self._after_target)
        self._finish_task(line)

    def _apply_cpu(self, result: CpuResult) -> None:
        for line, outcomes in result:
            for idx, outcome in outcomes:
                self._settle(line, self.cpu[idx].alias, outcome)

    def _settle(self, line: int, alias: str, outcome: Outcome, member: int | None = None) -> None:
        state = self._states[line]
        if member is None:
            state.result.outcomes[alias] = outcome
        else:
            parts = state.parts[alias]
            parts[member] = outcome
            if all(p is not None for p in parts):
                state.result.outcomes[alias] = merge_members(self._by_alias[alias].evaluator, parts)
        self._finish_task(line)

    def _finish_task(self, line: int) -> None:
        state = self._states[line]
        state.pending -= 1
        if state.pending == 0:
            del self._states[line]
            # Keep the configured evaluator order in the row, whatever order they finished in.
            outs = state.result.outcomes
            state.result.outcomes = {b.alias: outs[b.alias] for b in self.bound}
            self._ready[line] = state.result

    # -- process pool ----------------------------------------------------------------------

    def _start_process_pool(self, total_rows: int) -> CpuPool | None:
        for b in self.bound:
            b.evaluator.warm_up()  # load tokenizers/WordNet once, before forking
        if not self.cpu or self.plan.workers < 1:
            return None
        if total_rows * len(self.cpu) < INLINE_CPU_BELOW:
            return None
        if not hasattr(os, "fork"):
            return None  # without fork, workers would re-import and re-load everything
        if threading.active_count() > 1:
            return None  # forking a threaded process is unsafe; stay inline
        WORKER_EVALUATORS[:] = [b.evaluator for b in self.cpu]
        # The spawner is forked here, before the thread pools exist; it forks every worker,
        # replacements included (see evalcli.workers for why).
        pool = CpuPool(self.plan.workers, self._queue.put, self._run_inline)
        pool.start()
        return pool
