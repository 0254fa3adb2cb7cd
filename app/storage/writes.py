"""Call events on their way to the database: in order, never holding up a call, kept through an outage.

The journal (every call event this node stores) writes through ``Writes.submit``.
On the gevent loop (the service), a write is queued and one greenlet stores the
queue oldest first, so publishing an event never waits for the database and
never yields: a call's greenlets go on exactly as if storage were instant (a
page read a few milliseconds later sees the write). Outside a loop (a script,
the in-process tests) a write is stored at once. Reads through the call store
first ``settle``: they wait the few milliseconds until this node's queued writes
are stored, so what a call just did is what a page shows.

When a write fails because the database is unreachable or busy
(``db.is_transient``), it stays first in the queue and is retried with backoff
(0.5 s doubling to 10 s); every later write waits behind it, in order. Live
calls go on meanwhile, and once the database is back the queue is stored and
nothing is lost. A write that fails for good (bad data) is logged and dropped,
never blocking the ones behind it.

Limits, said plainly: the queue lives in this process's memory. If the process
dies while the database is down, the writes still waiting are lost (the calls it
held are then closed as ``interrupted`` by the next start). When the queue is
full (``limit``), new writes are dropped and counted, never older ones.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

import gevent

from app.storage.db import is_transient, on_gevent_loop

log = logging.getLogger(__name__)

Write = tuple[str, Callable[[], object]]


class Writes:
    def __init__(
        self,
        limit: int = 50_000,
        first_delay: float = 0.5,
        max_delay: float = 10.0,
        background: bool | None = None,
    ) -> None:
        self.limit = limit
        self.first_delay, self.max_delay = first_delay, max_delay
        self.background = on_gevent_loop() if background is None else background
        self.backlog: deque[Write] = deque()
        self.dropped = 0
        self.queued = self.finished = 0  # writes ever queued / stored (or dropped as wrong): for settle()
        self.error: str | None = None  # why the database is not taking writes, while it is not
        self._writer: gevent.Greenlet | None = None

    @property
    def pending(self) -> int:
        return len(self.backlog)

    def submit(self, what: str, write: Callable[[], object]) -> None:
        """Queue ``write`` (``what`` names it in logs); outside a loop, store it now unless others wait."""
        if not self.background and not self.backlog:
            try:
                write()
                return
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self._lost(exc)
        self._keep((what, write))

    def _lost(self, exc: BaseException) -> None:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if self.error is None:
            log.error("database unreachable (%s: %s): call events wait in memory, retried", type(exc).__name__, first)
        self.error = f"{type(exc).__name__}: {first}"

    def _keep(self, item: Write) -> None:
        if len(self.backlog) >= self.limit:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.error("write queue full (%d): %d call event(s) dropped (%s)", self.limit, self.dropped, item[0])
            return
        self.backlog.append(item)
        self.queued += 1
        if self._writer is None or self._writer.dead:
            self._writer = gevent.spawn(self._store)

    def _store(self) -> None:
        """Store the queue oldest first; wait longer after each failure; give up on a write only if it is wrong."""
        delay = self.first_delay
        while self.backlog:
            what, write = self.backlog[0]
            try:
                write()
            except Exception as exc:  # noqa: BLE001 - the writer must never die
                if is_transient(exc):
                    self._lost(exc)
                    gevent.sleep(delay)
                    delay = min(delay * 2, self.max_delay)
                    continue
                log.exception("a call event could not be stored and was dropped: %s", what)
            self.backlog.popleft()
            self.finished += 1
            delay = self.first_delay
            gevent.sleep(0)  # let a waiting request take the database in turn (a re-taken lock would starve it)
            if self.error is not None:
                log.warning("database back: storing the %d call event(s) that waited", len(self.backlog))
                self.error = None

    def settle(self, timeout: float = 1.0) -> None:
        """Before a read on this node: wait (briefly) until the writes queued so far are stored.

        So a page or API read sees what this node's calls just did, as when writes
        were inline. Not while the database is unreachable (the read fails anyway),
        and never in the writer itself.
        """
        mark = self.queued
        if self.finished >= mark or self.error is not None or gevent.getcurrent() is self._writer:
            return
        with gevent.Timeout(timeout, False):
            while self.finished < mark and self.error is None:
                gevent.sleep(0.002)

    def wait_empty(self, timeout: float) -> bool:
        """Block (this greenlet) until the queue is stored; False on timeout (used at shutdown)."""
        with gevent.Timeout(timeout, False):
            while self.backlog:
                gevent.sleep(0.02)
            return True
        return False
