"""The database: SQLite (the default, one file) or PostgreSQL (``DATABASE_URL``), through SQLAlchemy Core.

A statement never blocks the gevent loop:

- **PostgreSQL** (psycopg 3): psycopg sees gevent's monkey patching (``select``
  patched) and waits on its socket through gevent instead of its C wait
  function, so a slow query parks only the greenlet that asked. Connections
  come from a pool; reads run in autocommit (no BEGIN/ROLLBACK round trips).
- **SQLite** has no socket to wait on: its C library blocks (a busy file waits up
  to ``timeout`` seconds). Each unit of work runs in gevent's thread pool
  (sqlite3 releases the GIL), one at a time on the process's one connection.

Writes take ``BEGIN IMMEDIATE`` on SQLite (the write lock up front, no upgrade
deadlock between processes). The schema is made and upgraded by the Alembic
migrations (``app/storage/migrate.py``) when the database is opened.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import StaticPool

from app.urls import safe_url

T = TypeVar("T")
Work = Callable[[sa.Connection], T]

# Errors after which the same write may succeed later: the server is gone, restarting or busy.
TRANSIENT = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)


class DatabaseUnreachable(RuntimeError):
    """The database cannot be reached at start: the message names the URL without its password."""


def sqlalchemy_url(url: str) -> str:
    """``DATABASE_URL`` as SQLAlchemy wants it: ``postgres(ql)://`` (what PaaS add-ons set) → psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith(("postgresql+psycopg://", "sqlite://")):
        return url
    raise ValueError(
        f"DATABASE_URL must be sqlite:///<file> or postgresql://<user>:<password>@<host>/<db>, "
        f"not {url.split(':', 1)[0]!r}"
    )


def sqlite_path(url: str) -> str:
    """The file behind ``sqlite:///relative`` or ``sqlite:////absolute``; ``sqlite://`` is memory."""
    if url in ("sqlite://", "sqlite:///:memory:"):
        return ":memory:"
    return url[len("sqlite:///") :]


def is_transient(error: BaseException) -> bool:
    """True when ``error`` says the database is unreachable or busy (retry later), not that the write is wrong."""
    return isinstance(error, TRANSIENT) or (isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated)


def make_engine(url: str) -> sa.Engine:
    """An engine for ``DATABASE_URL`` (no connection is made yet)."""
    target = sqlalchemy_url(url)
    if target.startswith("sqlite"):
        path = sqlite_path(url)
        if path != ":memory:":
            _private_file(Path(path))
        engine = sa.create_engine(
            f"sqlite:///{path}",
            poolclass=StaticPool,  # one connection per process, used one unit of work at a time
            connect_args={"check_same_thread": False, "timeout": 5},
        )
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(
        target,
        pool_size=5,
        max_overflow=15,
        pool_timeout=10,
        pool_pre_ping=True,  # a connection that died with the server is replaced on checkout
        pool_recycle=1800,
        connect_args={"connect_timeout": 5, "application_name": "callstream"},
    )


def _private_file(path: Path) -> None:
    """The database file exists, readable by this user only (0600).

    SQLite gives its -wal and -shm files the database file's mode; created by SQLite
    itself they were world-readable (the umask's 0644), call records and all.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for file in (path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal"))):
        try:
            if file.exists() and file.stat().st_mode & 0o077:
                file.chmod(0o600)  # a file made before this rule, too
        except OSError:  # not ours to change (another user's file): SQLite says so if it cannot open it
            pass


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        dbapi_connection.execute(f"PRAGMA {pragma}")


def on_gevent_loop() -> bool:
    """Are we on a gevent loop (monkey patched)? Then blocking C calls go to the thread pool."""
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a requirement
        return False
    return bool(monkey.is_module_patched("socket"))


class Database:
    """One engine per process; ``read``/``write`` run a unit of work without blocking the loop."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        self._lock = threading.RLock()  # a gevent lock once patched: SQLite's one connection, one user
        self._pool: Any = None  # SQLite's own thread (made on first use in the process that uses it)
        self.check()
        if migrate:
            from app.storage.migrate import upgrade

            upgrade(self.engine)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def check(self) -> None:
        """Connect once; refuse (DatabaseUnreachable, naming the URL without its password) when we cannot."""
        try:
            self.read(lambda conn: conn.exec_driver_sql("SELECT 1").scalar())
        except sa_exc.DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
            password = sa.make_url(sqlalchemy_url(self.url)).password
            if password:
                reason = reason.replace(str(password), "***")
            raise DatabaseUnreachable(f"DATABASE_URL {safe_url(self.url)} cannot be reached: {reason}") from None

    def after_fork(self) -> None:
        """A forked worker opens its own connections (they must never cross fork)."""
        self._lock = threading.RLock()
        self._pool = None
        self.engine.dispose(close=False)

    def read(self, work: Work[T]) -> T:
        """Run ``work(connection)`` outside a transaction (reads)."""
        return self._run(work, write=False)

    def write(self, work: Work[T]) -> T:
        """Run ``work(connection)`` in one transaction: all of it is stored, or none."""
        return self._run(work, write=True)

    def _run(self, work: Work[T], *, write: bool) -> T:
        if not self.is_sqlite:
            return self._unit(work, write)  # psycopg waits cooperatively under gevent
        with self._lock:
            if on_gevent_loop():
                return self._thread().apply(self._unit, (work, write))
            return self._unit(work, write)

    def _thread(self) -> Any:
        """SQLite's own thread, not the hub's pool: there an answer webhook's insert queued behind vosk's
        work (its p99 went from ~20 ms to ~1 s at 100 calls)."""
        if self._pool is None:
            from gevent.threadpool import ThreadPool

            self._pool = ThreadPool(1)
        return self._pool

    def _unit(self, work: Work[T], write: bool) -> T:
        if not write:
            options = {} if self.is_sqlite else {"isolation_level": "AUTOCOMMIT"}
            with self.engine.connect().execution_options(**options) as conn:
                return work(conn)
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # pysqlite then commits it on conn.commit()
            try:
                result = work(conn)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
            return result

    def close(self) -> None:
        self.engine.dispose()
        if self._pool is not None:
            self._pool.kill()
            self._pool = None
