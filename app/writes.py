"""Writes that outlive a database outage: stored now when the database answers, in order later when it is back.

The journal (every call event this node stores) writes through ``Writes.submit``.
While the database answers, a write is done at once, in the publishing greenlet
(so a page read right after sees it). When a write fails because the database
is unreachable or busy (``db.is_transient``), it and every write after it wait
in a bounded in-memory backlog, in order, while one greenlet retries the oldest
with backoff (0.5 s doubling to 10 s). Live calls go on meanwhile: publishing
never waits for a database that is down. Once the backlog is empty, writes go
straight through again.

Limits, said plainly: the backlog lives in this process's memory. If the process
dies while the database is down, the writes still waiting are lost (the calls it
held are then closed as ``interrupted`` by the next start). When the backlog is
full (``limit``), new writes are dropped and counted, never older ones.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

import gevent

from .db import is_transient

log = logging.getLogger(__name__)

Write = tuple[str, Callable[[], object]]


class Writes:
    def __init__(self, limit: int = 50_000, first_delay: float = 0.5, max_delay: float = 10.0) -> None:
        self.limit = limit
        self.first_delay, self.max_delay = first_delay, max_delay
        self.backlog: deque[Write] = deque()
        self.dropped = 0
        self.error: str | None = None  # why the database is not taking writes, while it is not
        self._lock = threading.RLock()  # a gevent lock once patched: writes go through one at a time
        self._retrier: gevent.Greenlet | None = None

    @property
    def pending(self) -> int:
        return len(self.backlog)

    def submit(self, what: str, write: Callable[[], object]) -> None:
        """Store now, or (database unreachable) keep ``write`` for later; ``what`` names it in logs."""
        with self._lock:
            if not self.backlog:
                try:
                    write()
                    return
                except Exception as exc:
                    if not is_transient(exc):
                        raise
                    self._lost(exc)
            self._keep((what, write))

    def _lost(self, exc: BaseException) -> None:
        self.error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        log.error("database unreachable (%s): call events wait in memory and are retried", self.error)

    def _keep(self, item: Write) -> None:
        if len(self.backlog) >= self.limit:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.error("write backlog full (%d): %d write(s) dropped (%s)", self.limit, self.dropped, item[0])
            return
        self.backlog.append(item)
        if self._retrier is None or self._retrier.dead:
            self._retrier = gevent.spawn(self._retry)

    def _retry(self) -> None:
        """Replay the backlog oldest first; wait longer after each failure; give up on a write only if it is wrong."""
        delay = self.first_delay
        while self.backlog:
            what, write = self.backlog[0]
            try:
                write()
            except Exception as exc:  # noqa: BLE001 - a retry must never kill the retrier
                if is_transient(exc):
                    gevent.sleep(delay)
                    delay = min(delay * 2, self.max_delay)
                    continue
                log.exception("a stored write failed for good and was dropped: %s", what)
            self.backlog.popleft()
            delay = self.first_delay
        log.warning("database back: the write backlog is stored")
        self.error = None

    def wait_empty(self, timeout: float) -> bool:
        """Block (this greenlet) until the backlog is stored; False on timeout (used at shutdown and in tests)."""
        deadline = gevent.Timeout(timeout, False)
        with deadline:
            while self.backlog:
                gevent.sleep(0.05)
            return True
        return False
