"""The outbox: outgoing webhooks kept in the database until they are sent (#23.2).

A row is written in the same transaction as what it announces (a call's end:
``CallStore.set_state``), so a process that stops right after has not lost it.
Any number of workers and hosts may run a delivery greenlet
(app/outbox/delivery.py): each row is sent by the one whose
``UPDATE … WHERE state = 'pending'`` changed it; a row left ``sending`` by a
process that died is pending again after ``LEASE`` seconds.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import sqlalchemy as sa

from app.storage.db import Database
from app.storage.tables import outbox

PENDING, SENDING, DELIVERED, FAILED, SKIPPED = "pending", "sending", "delivered", "failed", "skipped"
LEASE = 60.0  # a row claimed this long ago by a process that has not finished it is claimed again
# call.ended waits this long: the stream's last events (its counters, the recording) are stored meanwhile.
END_DELAY = 3.0
EVENTS = ("call.ended", "transfer.started", "transfer.answered", "transfer.unanswered")


def enqueue(conn: sa.Connection, call_id: str, event: str, data: dict[str, Any] | None = None, *,
            delay: float = 0.0, now: float | None = None) -> None:  # fmt: skip
    """Write one event to send, inside the caller's transaction."""
    if event not in EVENTS:
        raise ValueError(f"unknown outgoing event {event!r}")
    at = time.time() if now is None else now
    conn.execute(
        sa.insert(outbox).values(
            call_id=call_id,
            event=event,
            msg_id=f"msg_{uuid.uuid4().hex}",
            state=PENDING,
            data=json.dumps(data or {}, default=str),
            created_at=at,
            next_at=at + delay,
        )  # fmt: skip
    )


def _row(row: sa.Row) -> dict[str, Any]:
    data = dict(row._mapping)
    data["data"] = json.loads(data["data"] or "{}")
    data["payload"] = json.loads(data["payload"]) if data["payload"] else None
    return data


class Outbox:
    """The rows, for the delivery greenlet and for whoever shows a call's delivery state."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, call_id: str, event: str, data: dict[str, Any] | None = None, delay: float = 0.0) -> None:
        self.db.write(lambda conn: enqueue(conn, call_id, event, data, delay=delay))

    def due(self, limit: int = 20, now: float | None = None) -> list[int]:
        """Ids of rows to try now: pending and due, or claimed longer than LEASE ago (their sender died)."""
        at = time.time() if now is None else now
        stale = sa.and_(outbox.c.state == SENDING, outbox.c.claimed_at < at - LEASE)
        query = sa.select(outbox.c.id).where(sa.or_(sa.and_(outbox.c.state == PENDING, outbox.c.next_at <= at), stale))
        return self.db.read(lambda conn: list(conn.execute(query.order_by(outbox.c.next_at).limit(limit)).scalars()))

    def claim(self, row_id: int, node: str, now: float | None = None) -> dict[str, Any] | None:
        """The row, now ours to send; None when another process claimed it first."""
        at = time.time() if now is None else now
        free = sa.or_(
            sa.and_(outbox.c.state == PENDING, outbox.c.next_at <= at),
            sa.and_(outbox.c.state == SENDING, outbox.c.claimed_at < at - LEASE),
        )
        change = (
            sa.update(outbox)
            .where(outbox.c.id == row_id, free)
            .values(state=SENDING, claimed_by=node, claimed_at=at, attempts=outbox.c.attempts + 1)
        )

        def work(conn: sa.Connection) -> dict[str, Any] | None:
            if conn.execute(change).rowcount != 1:
                return None
            return _row(conn.execute(sa.select(outbox).where(outbox.c.id == row_id)).one())

        return self.db.write(work)

    def prepare(self, row_id: int, payload: dict[str, Any], url: str | None) -> None:
        """Keep the body and the address of the first attempt: every retry sends the same bytes."""
        change = (
            sa.update(outbox).where(outbox.c.id == row_id).values(payload=json.dumps(payload, default=str), url=url)
        )
        self.db.write(lambda conn: conn.execute(change))

    def finish(self, row_id: int, node: str, state: str, status: str | None, retry_at: float | None = None) -> None:
        """Record an attempt's outcome (only while the row is still this node's claim)."""
        values: dict[str, Any] = {"state": state, "last_status": status, "claimed_by": None, "claimed_at": None}
        if state == PENDING:
            values["next_at"] = retry_at if retry_at is not None else time.time()
        else:
            values["done_at"] = time.time()
        change = sa.update(outbox).where(outbox.c.id == row_id, outbox.c.state == SENDING, outbox.c.claimed_by == node)
        self.db.write(lambda conn: conn.execute(change.values(values)))

    def redeliver(self, call_id: str, now: float | None = None) -> int:
        """A call's failed webhooks back to pending, due now, with their attempts counted afresh; how many.

        The stored body and ``webhook-id`` stay: a receiver that did handle one after all drops the repeat.
        """
        change = (
            sa.update(outbox)
            .where(outbox.c.call_id == call_id, outbox.c.state == FAILED)
            .values(state=PENDING, attempts=0, next_at=time.time() if now is None else now, done_at=None)
        )
        return int(self.db.write(lambda conn: conn.execute(change).rowcount))

    def forget(self, older_than: float) -> int:
        """Delete the rows that finished (delivered, failed, skipped) before ``older_than``; how many."""
        done = sa.delete(outbox).where(outbox.c.state.in_((DELIVERED, FAILED, SKIPPED)), outbox.c.done_at < older_than)
        return int(self.db.write(lambda conn: conn.execute(done).rowcount))

    def for_call(self, call_id: str) -> list[dict[str, Any]]:
        """A call's outgoing webhooks, oldest first: what the API and the call page show."""
        columns = (outbox.c.event, outbox.c.state, outbox.c.attempts, outbox.c.last_status, outbox.c.created_at,
                   outbox.c.done_at, outbox.c.msg_id)  # fmt: skip
        query = sa.select(*columns).where(outbox.c.call_id == call_id).order_by(outbox.c.id)
        return self.db.read(lambda conn: [dict(r._mapping) for r in conn.execute(query)])
