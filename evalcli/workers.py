"""A pool of forked CPU workers that survives a worker's death.

Why not :class:`concurrent.futures.ProcessPoolExecutor`: one worker that dies (killed by the
OS for memory, a crash in native code, ``os._exit`` in a plugin) breaks the whole executor
and fails every batch in flight, and a new executor could only be made by forking the parent
again, which is unsafe once the I/O threads run (a lock held by another thread at the moment
of ``fork`` stays locked in the child for ever). Running the broken batches in the parent
instead would let the row that killed a worker kill the whole run.

So the parent forks one single-threaded *spawner* process before any thread exists, right
after the evaluators were warmed up (tokenizers, WordNet). Every worker, the first ones and
each replacement, is forked by the spawner and therefore starts from that same warmed,
thread-free state, sharing its memory copy-on-write. Each worker talks to the parent over a
socket pair of its own whose far end the parent hands to the spawner (``SCM_RIGHTS``), so
the parent learns of a worker's death as the end of that socket, whoever killed it.

Results cross the process boundary as plain data (dicts, lists, strings, numbers; a row
error as a tuple), never as exception objects, so nothing an evaluator raises can fail to
unpickle in the parent.

Failure policy, per batch of rows: a batch whose worker died is run again on a fresh
worker; a batch that failed twice is split into one batch per row; a single row that failed
twice is marked ``worker-crashed`` for each CPU evaluator of that row. The other rows are
scored as usual, so one poisonous row costs a few forks, not the run.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import socket
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from evalcli.errors import RowError
from evalcli.results import Outcome
from evalcli.tasks import CpuBatch, CpuResult, run_cpu_batch

WORKER_CRASHED = "worker-crashed"

#: Attempts of one batch before it is split, and of one row before it is marked.
ATTEMPTS = 2

#: Batches sent to a worker before it answered: two, so that a worker never waits idle for
#: the parent's round trip. A batch that already failed once runs alone on its worker, so
#: that when a worker dies a second time the culprit is known: innocent rows that shared a
#: worker with a poisonous one fail at most once and are never marked.
DEPTH = 2

PlainOutcome = dict[str, Any] | tuple[str, str, dict[str, Any]]
PlainResult = list[tuple[int, list[tuple[int, PlainOutcome]]]]
Post = Callable[[tuple[str, Any]], None]


# -- plain data across the boundary ---------------------------------------------------------


def to_plain(outcome: Outcome) -> PlainOutcome:
    """An outcome as plain data: the outputs dict, or ``(kind, message, extra)``."""
    if isinstance(outcome, RowError):
        return (outcome.kind, outcome.message, dict(outcome.extra))
    return dict(outcome)


def from_plain(plain: PlainOutcome) -> Outcome:
    """The inverse of :func:`to_plain`."""
    if isinstance(plain, tuple):
        kind, message, extra = plain
        return RowError(kind, message, extra=extra)
    return plain


def _sendable(result: PlainResult) -> PlainResult:
    """Replace any outcome that cannot be pickled by a row error saying so."""
    out: PlainResult = []
    for line, outcomes in result:
        row: list[tuple[int, PlainOutcome]] = []
        for idx, plain in outcomes:
            try:
                pickle.dumps(plain, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:  # any object a plugin returned that pickle refuses
                plain = (
                    "evaluator-exception",
                    f"the evaluator returned a value that cannot leave its worker process "
                    f"({type(exc).__name__}: {exc})",
                    {},
                )
            row.append((idx, plain))
        out.append((line, row))
    return out


# -- child processes --------------------------------------------------------------------------


def _worker_main(fd: int) -> None:
    """Serve batches on ``fd`` until the parent closes it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    conn = Connection(fd)
    conn.send(("hello", os.getpid()))
    while True:
        try:
            job_id, batch = conn.recv()
        except (EOFError, OSError):
            return
        plain: PlainResult = [
            (line, [(idx, to_plain(o)) for idx, o in outs]) for line, outs in run_cpu_batch(batch)
        ]
        try:
            conn.send(("done", job_id, plain))
        except (pickle.PicklingError, TypeError, AttributeError, ValueError):
            conn.send(("done", job_id, _sendable(plain)))


def _spawner_main(ctrl: socket.socket) -> None:
    """Fork one worker for every socket the parent sends; exit when the parent goes away.

    Workers are reaped with ``waitpid`` (not by ignoring SIGCHLD) so that their CPU time
    adds up in the spawner's and, once the parent reaps the spawner, in the parent's
    ``RUSAGE_CHILDREN``, where ``time`` and the benchmarks look for it.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(ctrl, 16, 4)
        except OSError:
            msg, fds = b"", []
        _reap(block=not msg)
        if not msg:
            for fd in fds:
                os.close(fd)
            return
        for fd in fds:
            if os.fork() == 0:
                ctrl.close()
                try:
                    _worker_main(fd)
                finally:
                    os._exit(0)
            os.close(fd)


def _reap(*, block: bool) -> None:
    """Collect finished workers; with ``block``, wait until every one has ended."""
    while True:
        try:
            pid, _status = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _child(body: Callable[[], None]) -> None:
    """Run ``body`` in a forked child and leave without running the parent's exit hooks."""
    code = 0
    try:
        body()
    except BaseException:
        code = 1
    finally:
        with contextlib.suppress(BaseException):
            sys.stderr.flush()
        os._exit(code)


# -- the parent's side ------------------------------------------------------------------------


@dataclass
class _Job:
    id: int
    batch: CpuBatch
    failures: int = 0


@dataclass(eq=False)
class _Worker:
    sock: socket.socket  # kept to shut down: closing an fd does not wake a blocked reader
    conn: Connection
    pid: int | None = None
    jobs: list[_Job] = field(default_factory=list)  # sent, not yet answered, oldest first
    dead: bool = False

    def can_take(self, job: _Job) -> bool:
        """Whether ``job`` may be sent now (see :data:`DEPTH` for the rule)."""
        if self.dead or len(self.jobs) >= DEPTH:
            return False
        if job.failures or any(j.failures for j in self.jobs):
            return not self.jobs  # a suspect job runs alone, so its next death is its own
        return True


@dataclass
class PoolStats:
    """What happened to the pool's workers during a run."""

    deaths: int = 0
    rows_marked: int = 0
    retried_batches: int = 0
    pids: list[int] = field(default_factory=list)


class CpuPool:
    """Forked CPU workers with crash recovery (see the module docstring).

    Every call except the reader threads' ``post`` happens on the runner's main thread.

    Args:
        size: Number of workers.
        post: Puts an event on the runner's queue; called from reader threads.
        on_inline: Evaluates a batch in-process; used only if no worker can be started.
    """

    def __init__(self, size: int, post: Post, on_inline: Callable[[CpuBatch], CpuResult]):
        self.size = max(1, size)
        self._post = post
        self._inline = on_inline
        self._pending: deque[_Job] = deque()
        self._workers: list[_Worker] = []
        self._next_id = 0
        self._ctrl: socket.socket | None = None
        self._spawner_pid = 0
        self.stats = PoolStats()
        #: In-process results posted to the queue and not yet taken by the runner.
        self.inline_unread = 0
        self._readers: list[threading.Thread] = []

    def start(self) -> None:
        """Fork the spawner (call while no other thread runs), then start the workers."""
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            parent.close()
            _child(lambda: _spawner_main(child))
        child.close()
        self._ctrl = parent
        self._spawner_pid = pid
        for _ in range(self.size):
            self._spawn()

    @property
    def unfinished(self) -> int:
        """Batches queued or being evaluated."""
        busy = sum(len(w.jobs) for w in self._workers)
        return len(self._pending) + busy + self.inline_unread

    def submit(self, batch: CpuBatch) -> None:
        """Queue a batch of rows; its result arrives as a ``("pool", …)`` event."""
        self._next_id += 1
        self._pending.append(_Job(self._next_id, batch))
        self._dispatch()

    def handle(self, event: tuple[_Worker, Any]) -> CpuResult:
        """Apply one event from a reader thread; returns the rows it finished, if any."""
        worker, msg = event
        if msg is None:
            return self._died(worker)
        if msg[0] == "hello":
            worker.pid = msg[1]
            self.stats.pids.append(msg[1])
            return []
        _, job_id, plain = msg
        worker.jobs = [j for j in worker.jobs if j.id != job_id]
        self._dispatch()
        return [(line, [(idx, from_plain(p)) for idx, p in outs]) for line, outs in plain]

    def close(self, *, kill: bool = False) -> None:
        """Stop every worker and the spawner. ``kill`` ends busy workers at once."""
        readers, self._readers = self._readers, []
        for w in self._workers:
            if kill and w.pid is not None and w.jobs:
                with contextlib.suppress(OSError):
                    os.kill(w.pid, signal.SIGKILL)
            _shut(w)
        self._workers.clear()
        if self._ctrl is not None:
            with contextlib.suppress(OSError):
                self._ctrl.close()
            self._ctrl = None
        if self._spawner_pid:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(self._spawner_pid, 0)
            self._spawner_pid = 0
        # Reader threads end on the closed sockets; wait briefly so that the process is
        # single-threaded again (a later run in the same process may fork a new pool).
        for t in readers:
            t.join(timeout=5)

    # -- internals -----------------------------------------------------------------------

    def _spawn(self) -> _Worker | None:
        if self._ctrl is None:
            return None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            socket.send_fds(self._ctrl, [b"w"], [theirs.fileno()])
        except OSError:  # the spawner is gone: no more workers
            ours.close()
            theirs.close()
            self._ctrl.close()
            self._ctrl = None
            return None
        theirs.close()
        worker = _Worker(ours, Connection(os.dup(ours.fileno())))
        self._workers.append(worker)
        reader = threading.Thread(
            target=self._read, args=(worker,), name="evalcli-cpu-reader", daemon=True
        )
        reader.start()
        self._readers.append(reader)
        return worker

    def _read(self, worker: _Worker) -> None:
        try:
            while True:
                self._post(("pool", (worker, worker.conn.recv())))
        except Exception:  # EOF, a reset, or a message cut short by the worker's death
            self._post(("pool", (worker, None)))

    def _dispatch(self) -> None:
        progress = True
        while self._pending and progress:
            progress = False
            for w in self._workers:
                if self._pending and w.can_take(self._pending[0]):
                    job = self._pending.popleft()
                    w.jobs.append(job)
                    progress = True
                    # If it died, its reader thread reports that and the job is retried.
                    with contextlib.suppress(OSError):
                        w.conn.send((job.id, job.batch))
        if self._pending and not self._workers:
            # No worker could be started (the spawner died): finish in-process rather than
            # lose rows. Results come back as events like any other.
            while self._pending:
                job = self._pending.popleft()
                self.inline_unread += 1
                self._post(("inline", self._inline(job.batch)))

    def _died(self, worker: _Worker) -> CpuResult:
        if worker.dead:
            return []
        worker.dead = True
        self.stats.deaths += 1
        _shut(worker)
        self._workers.remove(worker)
        jobs, worker.jobs = worker.jobs, []
        marked: CpuResult = []
        for job in reversed(jobs):  # requeued at the front, oldest first
            job.failures += 1
            self.stats.retried_batches += 1
            if job.failures < ATTEMPTS:
                self._pending.appendleft(job)
            elif len(job.batch) > 1:
                for row in reversed(job.batch):  # one job per row, in input order
                    self._next_id += 1
                    self._pending.appendleft(_Job(self._next_id, [row]))
            else:
                marked.append(_crashed(job.batch[0], worker.pid))
                self.stats.rows_marked += 1
        self._spawn()
        self._dispatch()
        return marked


def _shut(worker: _Worker) -> None:
    with contextlib.suppress(OSError):
        worker.sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        worker.sock.close()
    with contextlib.suppress(OSError):
        worker.conn.close()


def _crashed(row: tuple[int, list[tuple[int, dict[str, Any]]]], pid: int | None) -> Any:
    line, work = row
    who = f"worker process {pid}" if pid else "a worker process"
    err = RowError(
        WORKER_CRASHED,
        f"{who} died while evaluating this row, twice (killed by the OS, out of memory, "
        f"or a crash in native code); the row was not scored",
    )
    return (line, [(idx, err) for idx, _inputs in work])
