"""What the platform tells us about a call after the fact: its ids (legs) and its CDR (talk time, cost).

A mixin of ``CallStore``. A CDR is sent up to four times (0, 5, 15, 30 min) and
may come after the call ended by itself, so what it stores is written only
where nothing is stored yet: a repeat changes nothing, and a late CDR enriches
a call without rewriting how it ended.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.storage.db import Database
from app.storage.tables import call_legs, calls

ENRICHED = ("answered_at", "talk_seconds", "billed_seconds", "call_rate", "balance")


def in_order(answered: float, call: sa.Row) -> dict[str, float]:
    """The platform's answer time, kept as sent, with our own times moved to bracket it (created ≤ answered ≤ ended).

    The answer time is the CDR's, what the platform bills and what a customer reconciles against, so it is
    never rewritten. Our created_at and ended_at come from another clock (or, for a call first heard of
    through a late event, from when we heard): when skew puts the answer outside them, they move to it.
    """
    values = {"answered_at": answered}
    if call.created_at is not None and answered < call.created_at:
        values["created_at"] = answered
    if call.ended_at is not None and answered > call.ended_at:
        values["ended_at"] = answered
    return values


class PlatformRecords:
    db: Database

    def add_leg(self, platform_id: str, call_id: str, leg: str | None = None) -> None:
        """Know ``call_id`` by ``platform_id`` from now on (a repeat, or an id already taken, is kept as it was)."""
        dialect = postgresql if self.db.dialect == "postgresql" else sqlite
        row = {"platform_id": platform_id, "call_id": call_id, "leg": leg, "created_at": time.time()}
        insert = dialect.insert(call_legs).values(row).on_conflict_do_nothing(index_elements=["platform_id"])
        self.db.write(lambda conn: conn.execute(insert))

    def legs(self, call_id: str) -> list[dict[str, Any]]:
        query = sa.select(call_legs.c.platform_id, call_legs.c.leg).where(call_legs.c.call_id == call_id)
        query = query.order_by(call_legs.c.created_at)
        return self.db.read(lambda conn: [dict(r._mapping) for r in conn.execute(query)])

    def call_id_by_leg(self, platform_id: str) -> str | None:
        query = sa.select(call_legs.c.call_id).where(call_legs.c.platform_id == platform_id)
        return self.db.read(lambda conn: conn.execute(query).scalar())

    def enrich(self, call_id: str, **fields: Any) -> list[str]:
        """Store each of ``fields`` (from ``ENRICHED``) where the call has none yet; the names that were stored."""
        unknown = set(fields) - set(ENRICHED)
        if unknown:
            raise ValueError(f"cannot enrich {sorted(unknown)}")
        wanted = {k: v for k, v in fields.items() if v is not None}
        if not wanted:
            return []

        def work(conn: sa.Connection) -> list[str]:
            columns = {*wanted, "created_at", "ended_at"}
            row = conn.execute(sa.select(*[calls.c[k] for k in columns]).where(calls.c.id == call_id).with_for_update())
            current = row.first()
            if current is None:
                return []
            values = {k: v for k, v in wanted.items() if current._mapping[k] is None}
            if "answered_at" in values:
                values.update(in_order(values["answered_at"], current))
            if values:
                change = sa.update(calls).where(calls.c.id == call_id)
                conn.execute(change.values({**values, "updated_at": time.time()}))
            return sorted(k for k in values if k in wanted)

        return self.db.write(work)

    def unsettled(self, states: tuple[str, ...], older_than: float, limit: int = 100) -> list[dict[str, Any]]:
        """Calls still in ``states`` created before ``older_than`` (epoch s), oldest first, bounded."""
        query = (
            sa.select(calls.c.id, calls.c.platform_id, calls.c.direction, calls.c.state, calls.c.created_at)
            .where(calls.c.state.in_(states), calls.c.created_at < older_than)
            .order_by(calls.c.created_at)
            .limit(limit)
        )
        return self.db.read(lambda conn: [dict(r._mapping) for r in conn.execute(query)])
