"""SQLite storage: one connection per process, WAL mode, schema made on first start.

Statements are short (single-row writes, indexed reads), so they run inline
under a lock; WAL with ``synchronous=NORMAL`` keeps each commit well under a
millisecond, which is what lets greenlets write without stalling the loop.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id TEXT PRIMARY KEY,
    platform_id TEXT,
    direction TEXT NOT NULL,
    from_number TEXT,
    to_number TEXT,
    agent TEXT,
    state TEXT NOT NULL,
    end_reason TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    answered_at REAL,
    ended_at REAL,
    platform_response TEXT,
    extra TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS calls_platform_id ON calls(platform_id);
CREATE INDEX IF NOT EXISTS calls_created_at ON calls(created_at);
CREATE INDEX IF NOT EXISTS calls_state ON calls(state);

CREATE TABLE IF NOT EXISTS call_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id TEXT,
    dedupe_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS call_events_call ON call_events(call_id);

CREATE TABLE IF NOT EXISTS timeline (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id TEXT NOT NULL,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS timeline_call ON timeline(call_id, id);
CREATE INDEX IF NOT EXISTS timeline_kind_at ON timeline(kind, at);

CREATE TABLE IF NOT EXISTS transcript (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id TEXT NOT NULL,
    at REAL NOT NULL,
    speaker TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS transcript_call ON transcript(call_id, id);
"""


def sqlite_path(url: str) -> str:
    """The file behind ``sqlite:///relative`` or ``sqlite:////absolute``; ``sqlite://`` is memory."""
    if url in ("sqlite://", "sqlite:///:memory:"):
        return ":memory:"
    if not url.startswith("sqlite:///"):
        raise ValueError(f"DATABASE_URL must be a sqlite:/// URL, not {url.split(':', 1)[0]!r}")
    return url[len("sqlite:///") :]


class Database:
    """A process-wide SQLite connection guarded by a lock (greenlet-safe once patched)."""

    def __init__(self, url: str) -> None:
        path = sqlite_path(url)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._connect()

    def after_fork(self) -> None:
        """A forked worker opens its own connection (SQLite connections must not cross fork)."""
        self._lock = threading.RLock()
        self._connect()

    def _connect(self) -> None:
        path = self.path
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=5)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.executescript(SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def execute(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(sql, params)

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
