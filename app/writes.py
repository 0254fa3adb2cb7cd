"""Writes that outlive a database outage: stored now when the database answers, in order later when it is back.

The journal (every call event this node stores) writes through ``Writes.submit``.
While the database answers, each write is done at once, one at a time and in
the order they came, and the publisher waits for it (so a page read right after
sees it) but never longer than ``patience`` (0.25 s): past that, a slow or locked
database finishes the write on its own greenlet. When a write fails because the
database is unreachable or busy (``db.is_transient``), it and every write after
it wait in a bounded in-memory backlog, in order, while one greenlet stores them
oldest first, retrying with backoff (0.5 s doubling to 10 s). Live calls go on
meanwhile. Once the backlog is empty, writes go straight through again.

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
    def __init__(
        self, limit: int = 50_000, first_delay: float = 0.5, max_delay: float = 10.0, patience: float = 0.25
    ) -> None:
        self.limit = limit
        self.patience = patience  # how long a publisher waits for the write before it (slow database)
        self.first_delay, self.max_delay = first_delay, max_delay
        self.backlog: deque[Write] = deque()
        self.dropped = 0
        self.error: str | None = None  # why the database is not taking writes, while it is not
        self._lock = threading.Lock()  # a gevent lock once patched (any greenlet may release it)
        self._retrier: gevent.Greenlet | None = None

    @property
    def pending(self) -> int:
        return len(self.backlog)

    def submit(self, what: str, write: Callable[[], object]) -> None:
        """Store now, or (database unreachable or slow) keep ``write`` for later; ``what`` names it in logs."""
        if self.backlog:
            self._keep((what, write))
            return
        gevent.spawn(self._write_now, (what, write)).join(self.patience)  # past patience it goes on alone

    def _write_now(self, item: Write) -> None:
        with self._lock:  # one at a time, in the order they came
            if self.backlog:  # an outage began while this one waited: behind the others
                self._keep(item)
                return
            try:
                item[1]()
            except Exception as exc:  # noqa: BLE001 - a failed write is kept or logged, never lost silently
                if not is_transient(exc):
                    log.exception("a call event could not be stored: %s", item[0])
                    return
                self._lost(exc)
                self._keep(item)  # the oldest: the backlog was empty

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
                with self._lock:  # after the writes already under way: the order holds
                    write()
            except Exception as exc:  # noqa: BLE001 - a retry must never kill the retrier
                if is_transient(exc):
                    gevent.sleep(delay)
                    delay = min(delay * 2, self.max_delay)
                    continue
                log.exception("a stored write failed for good and was dropped: %s", what)
            self.backlog.popleft()
            delay = self.first_delay
        if self.error is not None:
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
