"""A real PostgreSQL (Debian's package) on a free port in a temporary folder, for as long as tests need it.

As root, initdb and postgres run as the ``postgres`` user (PostgreSQL refuses
root), in a folder of their own under /tmp owned by that user; as anyone else,
as that user. Trust authentication on 127.0.0.1 only: a password in a URL is
accepted and ignored, which lets tests check that it is never shown.
"""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from emulator.service import free_port


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (make test installs Debian's postgresql)")
    return Path(found[-1]).parent


class PostgresServer:
    """One postgres process over one data folder; ``stop()`` and ``start()`` again on the same port."""

    def __init__(self) -> None:
        self.bindir = _bindir()
        self.folder = Path(tempfile.mkdtemp(prefix="callstream-pg-"))
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
            self._as_user = ["runuser", "-u", "postgres", "--"]
        data = self.folder / "data"
        initdb = [str(self.bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"]
        subprocess.run(
            [*self._as_user, *initdb],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str, password: str | None = None) -> str:
        user = f"postgres:{password}" if password else "postgres"
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def start(self, timeout: float = 20) -> None:
        self.proc = subprocess.Popen(
            [
                *self._as_user,
                str(self.bindir / "postgres"),
                "-D", str(self.folder / "data"),
                "-p", str(self.port),
                "-k", str(self.folder),
                "-c", "listen_addresses=127.0.0.1",
                "-c", "fsync=off",  # a test database: speed over durability
                "-c", "synchronous_commit=off",
                "-c", "full_page_writes=off",
                "-c", "max_connections=300",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.admin_url, connect_timeout=1).close()
                return
            except psycopg.OperationalError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("postgres did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """A fast shutdown: clients are disconnected, as when the server goes away."""
        if self.proc is None or self.proc.poll() is not None:
            return
        pg_ctl = [*self._as_user, str(self.bindir / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast", "-w"]
        subprocess.run([*pg_ctl, "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; its name."""
        name = name or f"cs_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


def hold_lock(database_url: str, seconds: float, held: threading.Event) -> None:
    """Another client takes the write lock (SQLite) or locks the timeline (PostgreSQL) for ``seconds``."""
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(database_url[len("sqlite:///") :], isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        held.set()
        time.sleep(seconds)
        conn.execute("COMMIT")
        conn.close()
        return
    with psycopg.connect(database_url) as conn:
        conn.execute("LOCK TABLE timeline IN ACCESS EXCLUSIVE MODE")
        held.set()
        time.sleep(seconds)
