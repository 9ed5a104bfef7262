"""A content-addressed cache of judge, target and Azure AI Content Safety calls in one SQLite file.

The key is the SHA-256 of the canonical JSON of everything that determines an answer (kind of
call, provider or Content Safety operation, endpoint host, deployment/model or api-version,
sampling parameters, messages or body, prompt file hash); each client builds its own (see their
``cache_key`` methods), and :class:`evalcli.remote.endpoint.Endpoint` looks it up before a call
and stores the answer after it. The ``kind`` column says which client stored an entry (``judge``,
``target``, ``content_safety``) for ``evalcli cache info``. Only successful answers are
stored — including answers that later fail to parse, since parsing is deterministic — never
errors. Each answer is committed as soon as it arrives, so a run that is killed can be run
again and only the missing calls are made.

WAL mode lets readers and the single writer proceed together; one connection guarded by a lock
is shared by the run's threads (lookups take microseconds, far below any network call).

Writes are group-committed: answers arrive in bursts (a judge at concurrency 100 answers a
hundred calls within a few milliseconds), and a transaction per answer costs more CPU than
the answer's own HTTP exchange's parsing (each commit appends whole pages to the WAL). The
first thread to store an answer commits; answers stored while it commits wait for its next
transaction, which it makes at once, until none is left. Nothing waits for a timer, so an
answer is on disk a commit or two after it arrived, and a killed run loses at most those
in the transaction being written — as before, when that was one answer.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalcli.errors import ConfigError
from evalcli.textsafe import json_text

DEFAULT_PATH = Path(".evalcli") / "cache.db"
SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    created REAL NOT NULL,
    value TEXT NOT NULL
)
"""


def cache_key(payload: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``payload`` (sorted keys, no whitespace)."""
    text = json_text(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class CacheStats:
    """Lookups during this run."""

    hits: int = 0
    misses: int = 0
    writes: int = 0


class CallCache:
    """The cache file. Thread-safe; open it once per run.

    Args:
        path: The SQLite file (its directory is created).

    Raises:
        ConfigError: the file cannot be opened or is not an evalcli cache.
    """

    def __init__(self, path: Path):
        self.path = path
        self.stats = CacheStats()
        #: Guards ``_pending``, ``_committing`` and the statistics.
        self._lock = threading.Lock()
        #: Guards the connection (one statement or transaction at a time).
        self._db_lock = threading.Lock()
        #: Answers stored and not yet committed: key -> (kind, created, value); lookups see them.
        self._pending: dict[str, tuple[str, float, str]] = {}
        #: Whether a thread is committing ``_pending`` now (it will take new entries too).
        self._committing = False
        self._closed = False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(path), check_same_thread=False, isolation_level=None, timeout=30
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL: a commit survives the process being killed (not a power cut), without an
            # fsync per answer.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(SCHEMA)
        except sqlite3.Error as exc:
            raise ConfigError(
                f"cannot open the call cache {path}: {exc}",
                hint="use --cache PATH for another file, or --no-cache",
            ) from None

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored answer for ``key``, or None."""
        with self._lock:
            pending = self._pending.get(key)
        if pending is not None:
            text: str = pending[2]
        else:
            with self._db_lock:
                row = self._db.execute("SELECT value FROM calls WHERE key = ?", (key,)).fetchone()
            if row is None:
                with self._lock:
                    self.stats.misses += 1
                return None
            text = row[0]
        with self._lock:
            self.stats.hits += 1
        value: dict[str, Any] = json.loads(text)
        return value

    def put(self, key: str, kind: str, value: Mapping[str, Any]) -> None:
        """Store an answer: committed before this returns, or by the thread committing now
        (see the module docstring).

        Raises:
            sqlite3.Error: this thread's transaction failed (nothing of it was stored).
        """
        text = json_text(value)  # an HTTP target may answer with a lone surrogate
        with self._lock:
            self._pending[key] = (kind, time.time(), text)
            self.stats.writes += 1
            if self._committing:
                return  # the committing thread takes it with its next transaction
            self._committing = True
        try:
            while True:
                self._commit_pending()
                with self._lock:
                    # Checked and released under one lock: an answer stored from now on
                    # finds nobody committing and commits itself.
                    if not self._pending:
                        self._committing = False
                        return
        except BaseException:
            with self._lock:
                self._committing = False
            raise

    def _commit_pending(self) -> None:
        """Commit what is pending now in one transaction (after :meth:`close`: drop it)."""
        with self._db_lock:
            with self._lock:
                batch = dict(self._pending)
                if self._closed:  # close() committed what was pending then
                    self._pending.clear()
                    return
            if not batch:
                return
            try:
                self._write(batch)
            finally:
                # Done, or failed and never retried (the next put starts afresh).
                with self._lock:
                    for key, entry in batch.items():
                        if self._pending.get(key) is entry:  # not replaced meanwhile
                            del self._pending[key]

    def _write(self, batch: Mapping[str, tuple[str, float, str]]) -> None:
        """One transaction storing ``batch`` (the caller holds ``_db_lock``)."""
        try:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO calls (key, kind, created, value) VALUES (?, ?, ?, ?)",
                [(key, kind, created, text) for key, (kind, created, text) in batch.items()],
            )
            self._db.execute("COMMIT")
        except sqlite3.Error:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def _flush(self) -> None:
        """Commit what is pending now (a committing thread may take part of it first)."""
        while True:
            self._commit_pending()
            with self._lock:
                if not self._pending:
                    return

    def info(self) -> dict[str, Any]:
        """Entries per kind and the file size."""
        self._flush()
        with self._db_lock:
            rows = self._db.execute("SELECT kind, COUNT(*) FROM calls GROUP BY kind").fetchall()
        size = sum(
            p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file()
        )
        by_kind = {str(k): int(n) for k, n in rows}
        return {
            "path": str(self.path),
            "entries": sum(by_kind.values()),
            "by_kind": by_kind,
            "bytes": size,
        }

    def clear(self) -> int:
        """Delete every entry; returns how many there were."""
        self._flush()
        with self._db_lock:
            n = int(self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])
            self._db.execute("DELETE FROM calls")
            self._db.execute("VACUUM")
        return n

    def close(self) -> None:
        """Commit what is pending and close the file.

        A thread still committing (a run stopped abruptly) finishes its transaction first:
        it holds the connection's lock for the whole of it. Answers stored after this are
        dropped, as a closed file cannot take them.
        """
        with self._db_lock:
            if self._closed:
                return
            self._closed = True
            with self._lock:
                batch, self._pending = self._pending, {}
            try:
                if batch:
                    self._write(batch)
            finally:
                self._db.close()
