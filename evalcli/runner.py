"""Execute a run plan: (row x evaluator) tasks, ordered results, bounded memory.

Concurrency lives here and nowhere else:

* CPU-bound evaluators (``execution = "cpu"``: the NLP metrics) run in batches of rows in a
  pool of forked worker processes — threads cannot use a second core because of the GIL. The
  parent warms every evaluator (loads tokenizers and WordNet) *before* forking, so workers
  share those tables copy-on-write instead of each loading them again.
* I/O-bound evaluators (judge calls) run in a thread pool sized by the concurrency setting.
* The main thread reads rows, dispatches tasks, collects outcomes from one queue and emits
  rows to the sink strictly in input order. At most ``window`` rows are in flight, which
  bounds memory however large the dataset is.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from evalcli.dataset import MISSING, Row
from evalcli.errors import RemoteError, RowError
from evalcli.evaluators.base import Evaluator
from evalcli.evaluators.context import EvalContext
from evalcli.plan import BoundEvaluator, RunPlan
from evalcli.results import Outcome, PartialOutcome, RowResult

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
    started: float = field(default_factory=time.monotonic)


# --- CPU worker side -------------------------------------------------------------------

_WORKER_EVALUATORS: list[Evaluator] = []

CpuWork = list[tuple[int, dict[str, Any]]]  # (index into _WORKER_EVALUATORS, inputs)
CpuBatch = list[tuple[int, CpuWork]]  # (row line, work)
CpuResult = list[tuple[int, list[tuple[int, Outcome]]]]


def _worker_init() -> None:
    # Ctrl-C is handled by the parent, which shuts the pool down cleanly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_cpu_batch(batch: CpuBatch, evaluators: list[Evaluator] | None = None) -> CpuResult:
    """Evaluate a batch of rows with the CPU-bound evaluators (in a worker or inline)."""
    evs = _WORKER_EVALUATORS if evaluators is None else evaluators
    out: CpuResult = []
    for line, work in batch:
        ctx = EvalContext(line)  # shared by this row's evaluators: tokenize each text once
        results = [(idx, evaluate_safely(evs[idx], inputs, ctx)) for idx, inputs in work]
        out.append((line, results))
    return out


def evaluate_safely(ev: Evaluator, inputs: dict[str, Any], ctx: EvalContext) -> Outcome:
    """Run one evaluation; any exception becomes a row error (fatal remote errors excepted)."""
    try:
        return ev.evaluate(inputs, ctx)
    except RowError as exc:
        return exc
    except RemoteError:
        raise
    except Exception as exc:  # isolate the failure to this (row, evaluator) pair
        return RowError("evaluator-exception", f"{type(exc).__name__}: {exc}")


# --- parent side -----------------------------------------------------------------------


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
        on_outcome: Called for every (alias, outcome) as rows are emitted (metrics).
        progress: Called with (rows done, rows total) from the main thread.
    """

    def __init__(
        self,
        plan: RunPlan,
        sink: RowSink,
        progress: ProgressFn | None = None,
        should_stop: Callable[[], bool] | None = None,
    ):
        self.plan = plan
        self.sink = sink
        self.progress = progress
        self.should_stop = should_stop or (lambda: False)
        self.bound = plan.evaluators
        self.cpu = [b for b in self.bound if b.evaluator.execution == "cpu"]
        self.io = [b for b in self.bound if b.evaluator.execution != "cpu" or b.evaluator.members]
        self._cpu_index = {b.alias: i for i, b in enumerate(self.cpu)}
        self._queue: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._outstanding = 0  # submitted async items (CPU batches, I/O tasks) not yet received

    def run(self) -> RunStats:
        """Execute every row; returns when all rows were emitted, or on a fatal error."""
        stats = RunStats()
        total = self.plan.scan.rows
        pool = self._start_process_pool(total)
        threads = (
            ThreadPoolExecutor(
                max_workers=max(1, self.plan.io_threads), thread_name_prefix="evalcli-io"
            )
            if self.io
            else None
        )
        window = max(256, 4 * self.plan.io_threads, 4 * CPU_BATCH_ROWS * max(1, self.plan.workers))
        states: dict[int, _RowState] = {}
        ready: dict[int, RowResult] = {}
        rows: Iterator[Row] = iter(self.plan.dataset.rows())
        exhausted = False
        next_emit = 1
        batch: CpuBatch = []
        last_progress = 0.0

        def flush_batch() -> None:
            nonlocal batch
            if not batch:
                return
            todo, batch = batch, []
            if pool is None:
                self._apply_cpu(run_cpu_batch(todo, [b.evaluator for b in self.cpu]), states, ready)
                return
            self._outstanding += 1
            fut = pool.submit(run_cpu_batch, todo)
            fut.add_done_callback(lambda f: self._queue.put(("cpu", f)))

        try:
            while True:
                if self.should_stop():
                    stats.interrupted = True
                    break
                # Feed rows while the window has room.
                while not exhausted and len(states) + len(ready) < window:
                    try:
                        row = next(rows)
                    except StopIteration:
                        exhausted = True
                        break
                    self._dispatch(row, states, ready, batch, threads)
                    if len(batch) >= CPU_BATCH_ROWS:
                        flush_batch()
                if exhausted or len(states) + len(ready) >= window:
                    flush_batch()
                # Emit finished rows in order.
                while next_emit in ready:
                    self.sink.write(ready.pop(next_emit))
                    next_emit += 1
                    stats.rows_done += 1
                now = time.monotonic()
                if self.progress and (now - last_progress > 0.1 or (exhausted and not states)):
                    self.progress(stats.rows_done, total)
                    last_progress = now
                if exhausted and not states and not ready:
                    break
                if self._outstanding == 0:
                    continue  # everything dispatched so far finished inline: feed more rows
                # Wait for at least one outcome, then drain whatever else arrived.
                try:
                    item = self._queue.get(timeout=0.5)
                except queue.Empty:
                    continue
                while True:
                    kind, payload = item
                    self._outstanding -= 1
                    if kind == "cpu":
                        self._apply_cpu(payload.result(), states, ready)
                    elif kind == "io":
                        line, alias, outcome, member = payload
                        if isinstance(outcome, RemoteError):
                            stats.fatal = outcome
                        else:
                            self._settle(line, alias, outcome, states, ready, member)
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
            if threads is not None:
                threads.shutdown(wait=not (stats.interrupted or stats.fatal), cancel_futures=True)
            if pool is not None:
                pool.shutdown(wait=not stats.interrupted, cancel_futures=True)
            _WORKER_EVALUATORS.clear()
        return stats

    # -- helpers ---------------------------------------------------------------------------

    def _start_process_pool(self, total_rows: int) -> ProcessPoolExecutor | None:
        for b in self.cpu:
            warm = getattr(b.evaluator, "warm_up", None)
            if callable(warm):
                warm()  # load tokenizers/WordNet once, before forking
        if not self.cpu or self.plan.workers < 1:
            return None
        if total_rows * len(self.cpu) < INLINE_CPU_BELOW:
            return None
        if "fork" not in multiprocessing.get_all_start_methods():
            return None  # without fork, workers would re-import and re-load everything
        if threading.active_count() > 1:
            return None  # forking a threaded process is unsafe; stay inline
        _WORKER_EVALUATORS[:] = [b.evaluator for b in self.cpu]
        ctx = multiprocessing.get_context("fork")
        pool = ProcessPoolExecutor(
            max_workers=self.plan.workers, mp_context=ctx, initializer=_worker_init
        )
        # With fork, every worker is started at the first submit; do it now, before the
        # thread pool exists, so no other thread is running while we fork.
        pool.submit(int).result()
        return pool

    def _dispatch(
        self,
        row: Row,
        states: dict[int, _RowState],
        ready: dict[int, RowResult],
        batch: CpuBatch,
        threads: ThreadPoolExecutor | None,
    ) -> None:
        result = RowResult(row.line, row.data)
        state = _RowState(result, sum(len(b.evaluator.members) or 1 for b in self.bound))
        states[row.line] = state
        work: CpuWork = []
        for b in self.bound:
            members = b.evaluator.members
            if members:
                # Composite: every member is its own task; results merge under one alias.
                state.parts[b.alias] = [None] * len(members)
                for mi, member in enumerate(members):
                    m_inputs = resolve_inputs(b, row.data, None, member)
                    if isinstance(m_inputs, RowError):
                        self._settle(row.line, b.alias, m_inputs, states, ready, mi)
                    else:
                        assert threads is not None
                        self._outstanding += 1
                        threads.submit(self._run_io, row.line, b, m_inputs, mi)
                continue
            inputs = resolve_inputs(b, row.data, None)
            if isinstance(inputs, RowError):
                self._settle(row.line, b.alias, inputs, states, ready)
            elif b.evaluator.execution == "cpu":
                work.append((self._cpu_index[b.alias], inputs))
            else:
                assert threads is not None
                self._outstanding += 1
                threads.submit(self._run_io, row.line, b, inputs)
        if work:
            batch.append((row.line, work))

    def _run_io(
        self, line: int, b: BoundEvaluator, inputs: dict[str, Any], member: int | None = None
    ) -> None:
        ev = b.evaluator if member is None else b.evaluator.members[member]
        try:
            outcome: Outcome | RemoteError = evaluate_safely(ev, inputs, EvalContext(line))
        except RemoteError as exc:
            outcome = exc
        self._queue.put(("io", (line, b.alias, outcome, member)))

    def _apply_cpu(
        self, result: CpuResult, states: dict[int, _RowState], ready: dict[int, RowResult]
    ) -> None:
        for line, outcomes in result:
            for idx, outcome in outcomes:
                self._settle(line, self.cpu[idx].alias, outcome, states, ready)

    def _settle(
        self,
        line: int,
        alias: str,
        outcome: Outcome,
        states: dict[int, _RowState],
        ready: dict[int, RowResult],
        member: int | None = None,
    ) -> None:
        state = states[line]
        if member is None:
            state.result.outcomes[alias] = outcome
        else:
            parts = state.parts[alias]
            parts[member] = outcome
            if all(p is not None for p in parts):
                ev = next(b.evaluator for b in self.bound if b.alias == alias)
                state.result.outcomes[alias] = merge_members(ev, parts)
        state.pending -= 1
        if state.pending == 0:
            del states[line]
            # Keep the configured evaluator order in the row, whatever order they finished in.
            outs = state.result.outcomes
            state.result.outcomes = {b.alias: outs[b.alias] for b in self.bound}
            ready[line] = state.result


def merge_members(ev: Evaluator, parts: list[Outcome | None]) -> Outcome:
    """Combine a composite's member outcomes under its alias.

    Successful members contribute their keys; a failed member contributes
    ``<member>_error``/``<member>_error_kind`` (and no score). If every member failed, the
    composite as a whole is a row error.
    """
    errors = [(m, p) for m, p in zip(ev.members, parts, strict=True) if isinstance(p, RowError)]
    if len(errors) == len(parts):
        first = errors[0][1]
        message = "; ".join(f"{m.name}: {e.message}" for m, e in errors)
        return RowError(first.kind, message)
    merged = PartialOutcome()
    for m, p in zip(ev.members, parts, strict=True):
        if isinstance(p, RowError):
            merged[f"{m.name}_error"] = p.message
            merged[f"{m.name}_error_kind"] = p.kind
            merged.update(p.extra)
            merged.member_errors.append((m.name, p))
        elif p is not None:
            merged.update(p)
    return merged


def resolve_inputs(
    b: BoundEvaluator,
    data: dict[str, Any],
    target: dict[str, Any] | None,
    member: Evaluator | None = None,
) -> dict[str, Any] | RowError:
    """The evaluator's (or a composite member's) inputs for one row, or a row error."""
    inputs: dict[str, Any] = {}
    if member is not None:
        wanted = {i.name: i.required for i in member.inputs}
        refs = {n: r for n, r in b.refs.items() if n in wanted}
        required = {n for n, req in wanted.items() if req}
    else:
        refs, required = b.refs, set(b.required)
    for name, ref in refs.items():
        value = ref.resolve(data, target)
        if value is MISSING:
            if name in required:
                where = f"column {'.'.join(ref.path)!r}" if ref.source == "data" else ref.text
                return RowError("missing-input", f"input {name!r}: {where} is missing in this row")
            continue
        inputs[name] = value
    return inputs
