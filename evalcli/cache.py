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
        self._lock = threading.Lock()
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
            row = self._db.execute("SELECT value FROM calls WHERE key = ?", (key,)).fetchone()
            if row is None:
                self.stats.misses += 1
                return None
            self.stats.hits += 1
        value: dict[str, Any] = json.loads(row[0])
        return value

    def put(self, key: str, kind: str, value: Mapping[str, Any]) -> None:
        """Store an answer (committed immediately)."""
        text = json_text(value)  # an HTTP target may answer with a lone surrogate
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO calls (key, kind, created, value) VALUES (?, ?, ?, ?)",
                (key, kind, time.time(), text),
            )
            self.stats.writes += 1

    def info(self) -> dict[str, Any]:
        """Entries per kind and the file size."""
        with self._lock:
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
        with self._lock:
            n = int(self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])
            self._db.execute("DELETE FROM calls")
            self._db.execute("VACUUM")
        return n

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()
