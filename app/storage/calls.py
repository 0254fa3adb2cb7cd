"""The call repository: calls, their timeline, webhook events and transcript lines.

Storage only: it publishes nothing. What happens to a live call reaches it as
events, through ``app.storage.journal`` (a subscriber of the event bus). Statements are
SQLAlchemy Core on the tables of ``app.storage.tables``, the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.storage import tables
from app.storage.db import Database
from app.storage.outbox import END_DELAY, enqueue
from app.storage.platform_records import PlatformRecords
from app.storage.tables import call_events, call_legs, calls, timeline, transcript

T = TypeVar("T")
STATES = ("created", "failed", "connecting", "live", "handed_off", "ended")
FINAL_STATES = ("failed", "ended")
STREAM_STATES = ("connecting", "live", "handed_off")
DIRECTIONS = ("inbound", "outbound", "browser")  # browser: the dashboard's softphone
_UPDATABLE = (
    "platform_id",
    "agent",
    "from_number",
    "to_number",
    "answered_at",
    "ended_at",
    "end_reason",
    "platform_response",
    "talk_seconds",
    "billed_seconds",
    "call_rate",
    "balance",
)


def new_call_id() -> str:
    return uuid.uuid4().hex


def _row(row: sa.Row | Mapping[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    data = dict(row._mapping if isinstance(row, sa.Row) else row)
    for key in ("extra", "platform_response", "detail", "payload"):
        if key in data and isinstance(data[key], str):
            data[key] = json.loads(data[key])
    return data


def _rows(rows: list[sa.Row]) -> list[dict[str, Any]]:
    return [_row(r) for r in rows]  # type: ignore[misc]


class CallStore(PlatformRecords):
    def __init__(self, db: Database, settle: Callable[[], None] | None = None) -> None:
        self.db = db
        self.settle = settle  # waits for this node's queued writes before a read (app/storage/writes.py)
        self.announce: Callable[[], bool] = lambda: True  # is a call webhook configured? (the outbox, #23.2)

    def _read(self, work: Callable[[sa.Connection], T]) -> T:
        if self.settle is not None:
            self.settle()
        return self.db.read(work)

    # -- calls ------------------------------------------------------------------
    def create(
        self,
        *,
        direction: str,
        from_number: str | None,
        to_number: str | None,
        agent: str | None = None,
        platform_id: str | None = None,
        call_id: str | None = None,
        state: str = "created",
        extra: dict[str, Any] | None = None,
        timeline: list[tuple[str, dict[str, Any]]] = (),  # type: ignore[assignment]
    ) -> dict[str, Any]:
        """Insert a call and its first timeline entries in one transaction."""
        now = time.time()
        call = {
            "id": call_id or new_call_id(),
            "platform_id": platform_id,
            "direction": direction,
            "from_number": from_number,
            "to_number": to_number,
            "agent": agent,
            "state": state,
            "end_reason": None,
            "created_at": now,
            "updated_at": now,
            "answered_at": None,
            "ended_at": None,
            "platform_response": None,
            "extra": extra or {},
        }
        entries = [("state", {"state": state, "direction": direction}), *timeline]
        lines = [{"call_id": call["id"], "at": now, "kind": k, "detail": json.dumps(d)} for k, d in entries]

        def work(conn: sa.Connection) -> None:
            conn.execute(sa.insert(calls).values({**call, "extra": json.dumps(call["extra"])}))
            conn.execute(sa.insert(tables.timeline), lines)

        self.db.write(work)
        return call

    def get(self, call_id: str) -> dict[str, Any] | None:
        return self._read(lambda conn: _row(conn.execute(sa.select(calls).where(calls.c.id == call_id)).first()))

    def find_by_platform_id(self, platform_id: str) -> dict[str, Any] | None:
        """No settling: a call's row and its platform id are written directly, never through the journal's queue,
        and the answer webhook (which asks this) must not wait behind every live call's queued events."""
        query = sa.select(calls).where(calls.c.platform_id == platform_id).order_by(calls.c.created_at).limit(1)
        by_leg = sa.select(calls).join(call_legs, call_legs.c.call_id == calls.c.id)
        by_leg = by_leg.where(call_legs.c.platform_id == platform_id).limit(1)  # a leg's cmiuuid, a request_id
        return self.db.read(lambda conn: _row(conn.execute(query).first() or conn.execute(by_leg).first()))

    def list(
        self,
        *,
        state: str | None = None,
        direction: str | None = None,
        since: float | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        where = []
        if state:
            where.append(calls.c.state == state)
        if direction:
            where.append(calls.c.direction == direction)
        if since is not None:
            where.append(calls.c.created_at >= since)
        count = sa.select(sa.func.count()).select_from(calls).where(*where)
        page = (
            sa.select(calls).where(*where).order_by(calls.c.created_at.desc(), calls.c.id).limit(limit).offset(offset)
        )

        def work(conn: sa.Connection) -> tuple[list[dict[str, Any]], int]:
            return _rows(conn.execute(page).all()), int(conn.execute(count).scalar_one())

        return self._read(work)

    def left_live(self, node: str) -> list[dict[str, Any]]:
        """Calls still streaming on ``node`` (or on no recorded node: stored before nodes were recorded)."""
        query = (
            sa.select(calls)
            .where(calls.c.state.in_(STREAM_STATES), sa.or_(calls.c.node == node, calls.c.node.is_(None)))
            .order_by(calls.c.created_at)
        )
        return self._read(lambda conn: _rows(conn.execute(query).all()))

    def update(self, call_id: str, **fields: Any) -> None:
        unknown = set(fields) - set(_UPDATABLE) - {"extra"}
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")

        def work(conn: sa.Connection) -> None:
            values: dict[str, Any] = {"updated_at": time.time()}
            for key, value in fields.items():
                if key == "extra":
                    old = conn.execute(sa.select(calls.c.extra).where(calls.c.id == call_id).with_for_update()).first()
                    value = json.dumps({**(json.loads(old[0]) if old else {}), **value})
                elif key == "platform_response":
                    value = json.dumps(value)
                values[key] = value
            conn.execute(sa.update(calls).where(calls.c.id == call_id).values(values))

        self.db.write(work)

    def set_state(
        self,
        call_id: str,
        state: str,
        *,
        reason: str | None = None,
        at: float | None = None,
        held_by: str | None = None,
        **detail: Any,
    ) -> bool:
        """Move a call to ``state`` and put it on the timeline; a final state is never left.

        ``held_by`` records the node that holds the call's socket (see ``left_live``).
        """
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}")
        now = at or time.time()

        def work(conn: sa.Connection) -> bool:
            row = conn.execute(sa.select(calls.c.state).where(calls.c.id == call_id).with_for_update()).first()
            if row is None or row.state in FINAL_STATES or row.state == state:
                return False
            values: dict[str, Any] = {"state": state, "updated_at": now}
            if held_by is not None:
                values["node"] = held_by
            if state in FINAL_STATES:
                # never before the platform's answer time (another clock): created ≤ answered ≤ ended
                ended = sa.case((calls.c.answered_at > now, calls.c.answered_at), else_=now)
                values["ended_at"] = sa.func.coalesce(calls.c.ended_at, ended)
                values["end_reason"] = sa.func.coalesce(calls.c.end_reason, reason)
            conn.execute(sa.update(calls).where(calls.c.id == call_id).values(values))
            body = {"state": state, "from": row.state, **({"reason": reason} if reason else {}), **detail}
            conn.execute(sa.insert(timeline).values(call_id=call_id, at=now, kind="state", detail=json.dumps(body)))
            if state in FINAL_STATES and self.announce():  # the post-call webhook, in the end's transaction (#23.2)
                enqueue(conn, call_id, "call.ended", {"state": state, "reason": reason}, delay=END_DELAY)
            return True

        return self.db.write(work)

    # -- timeline, events, transcript -------------------------------------------
    def add_timeline(
        self, call_id: str, kind: str, detail: dict[str, Any] | None = None, at: float | None = None
    ) -> None:
        text = json.dumps(detail or {}, default=str)
        line = {"call_id": call_id, "at": at or time.time(), "kind": kind, "detail": text}
        self.db.write(lambda conn: conn.execute(sa.insert(timeline).values(line)))

    def timeline(self, call_id: str) -> list[dict[str, Any]]:
        query = sa.select(timeline.c.at, timeline.c.kind, timeline.c.detail).where(timeline.c.call_id == call_id)
        return self._read(lambda conn: _rows(conn.execute(query.order_by(timeline.c.id)).all()))

    def timeline_since(self, kind: str, since: float, limit: int = 20_000) -> list[dict[str, Any]]:
        """Every ``kind`` timeline entry at or after ``since`` (all calls), oldest first, bounded."""
        query = (
            sa.select(timeline.c.at, timeline.c.kind, timeline.c.detail)
            .where(timeline.c.kind == kind, timeline.c.at >= since)
            .order_by(timeline.c.at)
            .limit(limit)
        )
        return self._read(lambda conn: _rows(conn.execute(query).all()))

    def add_event(self, *, call_id: str | None, dedupe_key: str, kind: str, payload: dict[str, Any]) -> bool:
        """Store a webhook event once; False when the same event was stored before."""
        dialect = postgresql if self.db.dialect == "postgresql" else sqlite
        row = {
            "call_id": call_id,
            "dedupe_key": dedupe_key,
            "kind": kind,
            "payload": json.dumps(payload, default=str),
            "received_at": time.time(),
        }
        insert = dialect.insert(call_events).values(row).on_conflict_do_nothing(index_elements=["dedupe_key"])
        stored = insert.returning(call_events.c.id)  # a row back: stored now (rowcount is -1 with RETURNING)
        return self.db.write(lambda conn: conn.execute(stored).first() is not None)

    def event_call_id(self, dedupe_key: str) -> str | None:
        """The call a stored event belongs to."""
        query = sa.select(call_events.c.call_id).where(call_events.c.dedupe_key == dedupe_key)
        return self._read(lambda conn: conn.execute(query).scalar())

    def attach_event(self, dedupe_key: str, call_id: str) -> None:
        change = sa.update(call_events).where(call_events.c.dedupe_key == dedupe_key).values(call_id=call_id)
        self.db.write(lambda conn: conn.execute(change))

    def events(self, call_id: str) -> list[dict[str, Any]]:
        query = (
            sa.select(call_events.c.kind, call_events.c.payload, call_events.c.received_at)
            .where(call_events.c.call_id == call_id)
            .order_by(call_events.c.id)
        )
        return self._read(lambda conn: _rows(conn.execute(query).all()))

    def add_transcript(self, call_id: str, speaker: str, text: str, at: float | None = None) -> None:
        line = {"call_id": call_id, "at": at or time.time(), "speaker": speaker, "text": text}
        self.db.write(lambda conn: conn.execute(sa.insert(transcript).values(line)))

    def transcript(self, call_id: str) -> list[dict[str, Any]]:
        query = sa.select(transcript.c.at, transcript.c.speaker, transcript.c.text).where(
            transcript.c.call_id == call_id
        )
        return self._read(lambda conn: [dict(r._mapping) for r in conn.execute(query.order_by(transcript.c.id))])
