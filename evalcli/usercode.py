"""User code named in a config (``package.module:name`` or ``path/to/file.py:name``).

Used by Python targets and code evaluators: :func:`load_callable` imports it (which runs the
user's module), :class:`TimedCaller` calls it with a time limit that holds even when the
call never returns.
"""

from __future__ import annotations

import concurrent.futures.thread  # noqa: F401 - registers its exit join before our hook
import importlib
import importlib.util
import queue
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evalcli.errors import ConfigError


def load_callable(spec: str, base_dir: Path, where: str, what: str = "function") -> Any:
    """Import ``module:name`` or ``file.py:name``; ConfigError (exit 2) if that fails."""
    if ":" not in spec:
        raise ConfigError(
            f"{what} must look like package.module:name or path/to/file.py:name, got {spec!r}",
            where=where,
        )
    module_part, _, name = spec.rpartition(":")
    try:
        if module_part.endswith(".py") or "/" in module_part or "\\" in module_part:
            path = Path(module_part)
            path = path if path.is_absolute() else base_dir / path
            if not path.is_file():
                raise ConfigError(f"{what} file not found: {path}", where=where)
            mod_name = f"_evalcli_user_{abs(hash(str(path.resolve())))}"
            module = sys.modules.get(mod_name)
            if module is None:
                file_spec = importlib.util.spec_from_file_location(mod_name, path)
                if file_spec is None or file_spec.loader is None:
                    raise ConfigError(f"cannot load {path} as Python", where=where)
                module = importlib.util.module_from_spec(file_spec)
                sys.modules[mod_name] = module
                try:
                    file_spec.loader.exec_module(module)
                except BaseException:
                    del sys.modules[mod_name]
                    raise
        else:
            module = importlib.import_module(module_part)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(
            f"cannot import {what} {spec!r}: {type(exc).__name__}: {exc}", where=where
        ) from None
    try:
        return getattr(module, name)
    except AttributeError:
        raise ConfigError(f"{module_part} has no attribute {name!r}", where=where) from None


# -- calling user code with a time limit ----------------------------------------------------
#
# Python cannot stop a thread, so a call that passes its limit is *abandoned*: the caller
# gets CallTimeoutError and moves on, the call's thread keeps running until the call returns or
# the process exits. For that to be possible the call runs on a daemon thread of our own:
# interpreter exit never joins daemon threads, whereas concurrent.futures.ThreadPoolExecutor
# workers are joined at exit (threading._register_atexit), so one stuck call there would keep
# the process alive forever. Running user code in a subprocess instead would let us kill it,
# but would need the user's arguments, results and objects (class instances holding clients
# and models) to be picklable, and forking a threaded process is unsafe.

_POLL_S = 0.5  # a waiting caller re-checks this often whether the interpreter is exiting
_IDLE_EXIT_S = 1.0  # an idle worker thread ends after this long without work
_EXITING = threading.Event()


def _stop_waiting() -> None:
    _EXITING.set()


# At exit, concurrent.futures joins the run's worker threads; one of them may be waiting for
# a call that can no longer matter (Ctrl-C came while it ran). This hook tells such waits to
# end at once instead of sitting out the limit. Exit hooks run in reverse order of
# registration, and importing concurrent.futures.thread (above) registered the join first.
# The hook API is private (concurrent.futures uses it), hence the getattr: without it, waits
# end when the main thread has stopped, or at the limit.
_register_exit_hook = getattr(threading, "_register_atexit", None)
if _register_exit_hook is not None:
    _register_exit_hook(_stop_waiting)


class CallTimeoutError(Exception):
    """A call of user code did not return within its time limit (its thread was abandoned)."""

    def __init__(self, timeout_s: float):
        super().__init__(
            f"did not return within timeout_s={timeout_s:g} s; the call was abandoned (Python "
            "cannot stop a thread: it may go on running until evalcli exits)"
        )
        self.timeout_s = timeout_s


class _Abandoned:
    """Process-wide count of abandoned calls (for the CLI's warning at the end of a run)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.total = 0
        self.running = 0


_ABANDONED = _Abandoned()


def abandoned_calls() -> tuple[int, int]:
    """Calls of user code abandoned so far in this process, and how many still run."""
    with _ABANDONED.lock:
        return _ABANDONED.total, _ABANDONED.running


class _Job:
    """One call: run by a worker, waited for by the caller."""

    __slots__ = ("abandoned", "done", "error", "finished", "fn", "kwargs", "result", "started")

    def __init__(self, fn: Callable[..., Any], kwargs: dict[str, Any]):
        self.fn = fn
        self.kwargs = kwargs
        self.done = threading.Lock()  # held until the call returns (a Lock is the cheapest signal)
        self.done.acquire()
        self.started: float | None = None  # monotonic time the call began, set by the worker
        self.result: Any = None
        self.error: BaseException | None = None
        self.finished = False  # both flags are guarded by _ABANDONED.lock
        self.abandoned = False

    def run(self) -> None:
        self.started = time.monotonic()
        try:
            self.result = self.fn(**self.kwargs)
        except BaseException as exc:  # handed to the caller, which decides what it means
            self.error = exc
        with _ABANDONED.lock:
            self.finished = True
            if self.abandoned:
                _ABANDONED.running -= 1
        self.done.release()


class TimedCaller:
    """Calls user code on daemon threads, each call limited to ``timeout_s`` once it starts.

    Threads are reused: a caller takes an idle worker or starts a new one, so a call never
    waits in a queue behind another. Idle workers end after a second without work, and
    abandoned ones are replaced. Thread-safe.

    Args:
        name: Thread name prefix (shown by debuggers and ``py-spy``).
        timeout_s: The limit of one call, counted from when it starts running.
    """

    def __init__(self, name: str, timeout_s: float):
        self.name = name
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._started = 0

    def call(self, fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        """``fn(**kwargs)``: its result, or the exception it raised, in the calling thread.

        Raises:
            CallTimeoutError: the call ran for ``timeout_s`` without returning; it was abandoned.
        """
        job = _Job(fn, kwargs)
        with self._lock:
            worker = self._idle.pop() if self._idle else None
            if worker is None:
                self._started += 1
                worker = _Worker(self, f"evalcli-{self.name}-{self._started}")
        worker.inbox.put(job)
        if not self._wait(job):
            with _ABANDONED.lock:
                if not job.finished:
                    job.abandoned = True
                    _ABANDONED.total += 1
                    _ABANDONED.running += 1
                    raise CallTimeoutError(self.timeout_s)
            job.done.acquire()  # it returned just as the limit passed: take its answer
        if job.error is not None:
            raise job.error
        return job.result

    def _wait(self, job: _Job) -> bool:
        """Wait until the call returns (True) or has run ``timeout_s`` (False).

        Time spent before the worker picks the call up is not counted. The wait is cut into
        slices so that a caller stops waiting when the interpreter exits (its main thread
        ended): the run's own worker threads are joined at exit and must not wait out the
        limit of a call that can no longer matter (an interrupted run).
        """
        while True:
            started = job.started
            if started is None:
                left = self.timeout_s
            else:
                left = started + self.timeout_s - time.monotonic()
            if left <= 0:
                return False
            if job.done.acquire(timeout=min(left, _POLL_S)):
                return True
            if _EXITING.is_set() or not threading.main_thread().is_alive():
                return False

    def close(self) -> None:
        """Let idle workers end now (busy and abandoned ones end when their call returns)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.inbox.put(None)

    def _back(self, worker: _Worker) -> None:
        with self._lock:
            self._idle.append(worker)

    def _retire(self, worker: _Worker) -> bool:
        """Take an idle worker off the list; False if a caller has just handed it a call."""
        with self._lock:
            if worker in self._idle:
                self._idle.remove(worker)
                return True
            return False


class _Worker:
    """A daemon thread that runs the calls put into its inbox, one at a time."""

    def __init__(self, owner: TimedCaller, name: str):
        self.owner = owner
        self.inbox: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        threading.Thread(target=self._loop, name=name, daemon=True).start()

    def _loop(self) -> None:
        while True:
            try:
                job = self.inbox.get(timeout=_IDLE_EXIT_S)
            except queue.Empty:
                if self.owner._retire(self):
                    return
                continue  # a caller picked this worker just now: its call is on the way
            if job is None:
                return
            job.run()
            del job  # drop the arguments and result while idle
            self.owner._back(self)
