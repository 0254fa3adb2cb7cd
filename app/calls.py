"""The call repository: calls, their timeline, webhook events and transcript lines.

Storage only: it publishes nothing. What happens to a live call reaches it as
events, through ``app.journal`` (a subscriber of the event bus).
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from typing import Any

from .db import Database

STATES = ("created", "failed", "connecting", "live", "handed_off", "ended")
FINAL_STATES = ("failed", "ended")
_UPDATABLE = (
    "platform_id",
    "agent",
    "from_number",
    "to_number",
    "answered_at",
    "ended_at",
    "end_reason",
    "platform_response",
)


def new_call_id() -> str:
    return uuid.uuid4().hex


def _row(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    data = dict(row)
    for key in ("extra", "platform_response", "detail", "payload"):
        if key in data and isinstance(data[key], str):
            data[key] = json.loads(data[key])
    return data


class CallStore:
    def __init__(self, db: Database) -> None:
        self.db = db

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
        call_id = call_id or new_call_id()
        now = time.time()
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO calls (id, platform_id, direction, from_number, to_number, agent, state,"
                " created_at, updated_at, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    call_id,
                    platform_id,
                    direction,
                    from_number,
                    to_number,
                    agent,
                    state,
                    now,
                    now,
                    json.dumps(extra or {}),
                ),
            )
            entries = [("state", {"state": state, "direction": direction}), *timeline]
            conn.executemany(
                "INSERT INTO timeline (call_id, at, kind, detail) VALUES (?, ?, ?, ?)",
                [(call_id, now, kind, json.dumps(detail)) for kind, detail in entries],
            )
        return {
            "id": call_id,
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

    def get(self, call_id: str) -> dict[str, Any] | None:
        rows = self.db.query("SELECT * FROM calls WHERE id = ?", (call_id,))
        return _row(rows[0]) if rows else None

    def find_by_platform_id(self, platform_id: str) -> dict[str, Any] | None:
        rows = self.db.query("SELECT * FROM calls WHERE platform_id = ? ORDER BY created_at LIMIT 1", (platform_id,))
        return _row(rows[0]) if rows else None

    def list(
        self,
        *,
        state: str | None = None,
        direction: str | None = None,
        since: float | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        where, params = [], []
        if state:
            where.append("state = ?")
            params.append(state)
        if direction:
            where.append("direction = ?")
            params.append(direction)
        if since is not None:
            where.append("created_at >= ?")
            params.append(since)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        total = self.db.query(f"SELECT COUNT(*) AS n FROM calls {clause}", tuple(params))[0]["n"]
        rows = self.db.query(
            f"SELECT * FROM calls {clause} ORDER BY created_at DESC, id LIMIT ? OFFSET ?", (*params, limit, offset)
        )
        return [_row(r) for r in rows], total  # type: ignore[misc]

    def update(self, call_id: str, **fields: Any) -> None:
        unknown = set(fields) - set(_UPDATABLE) - {"extra"}
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        sets, params = ["updated_at = ?"], [time.time()]
        for key, value in fields.items():
            if key == "extra":
                call = self.get(call_id) or {"extra": {}}
                value = json.dumps({**call["extra"], **value})
            elif key == "platform_response":
                value = json.dumps(value)
            sets.append(f"{key} = ?")
            params.append(value)
        self.db.execute(f"UPDATE calls SET {', '.join(sets)} WHERE id = ?", (*params, call_id))

    def set_state(
        self, call_id: str, state: str, *, reason: str | None = None, at: float | None = None, **detail: Any
    ) -> bool:
        """Move a call to ``state`` and put it on the timeline; a final state is never left."""
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}")
        now = at or time.time()
        with self.db.transaction() as conn:
            row = conn.execute("SELECT state FROM calls WHERE id = ?", (call_id,)).fetchone()
            if row is None or row["state"] in FINAL_STATES or row["state"] == state:
                return False
            extra_sets = ""
            params: list[Any] = [state, now]
            if state in FINAL_STATES:
                extra_sets = ", ended_at = COALESCE(ended_at, ?), end_reason = COALESCE(end_reason, ?)"
                params += [now, reason]
            conn.execute(f"UPDATE calls SET state = ?, updated_at = ?{extra_sets} WHERE id = ?", (*params, call_id))
            body = {"state": state, "from": row["state"], **({"reason": reason} if reason else {}), **detail}
            conn.execute(
                "INSERT INTO timeline (call_id, at, kind, detail) VALUES (?, ?, 'state', ?)",
                (call_id, now, json.dumps(body)),
            )
        return True

    # -- timeline, events, transcript -------------------------------------------
    def add_timeline(
        self, call_id: str, kind: str, detail: dict[str, Any] | None = None, at: float | None = None
    ) -> None:
        now = at or time.time()
        text = json.dumps(detail or {}, default=str)
        self.db.execute(
            "INSERT INTO timeline (call_id, at, kind, detail) VALUES (?, ?, ?, ?)", (call_id, now, kind, text)
        )

    def timeline(self, call_id: str) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT at, kind, detail FROM timeline WHERE call_id = ? ORDER BY id", (call_id,))
        return [_row(r) for r in rows]  # type: ignore[misc]

    def timeline_since(self, kind: str, since: float, limit: int = 20_000) -> list[dict[str, Any]]:
        """Every ``kind`` timeline entry at or after ``since`` (all calls), oldest first, bounded."""
        rows = self.db.query(
            "SELECT at, kind, detail FROM timeline WHERE kind = ? AND at >= ? ORDER BY at LIMIT ?", (kind, since, limit)
        )
        return [_row(r) for r in rows]  # type: ignore[misc]

    def add_event(self, *, call_id: str | None, dedupe_key: str, kind: str, payload: dict[str, Any]) -> bool:
        """Store a webhook event once; False when the same event was stored before."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO call_events (call_id, dedupe_key, kind, payload, received_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (call_id, dedupe_key, kind, json.dumps(payload, default=str), time.time()),
        )
        return cur.rowcount == 1

    def event_call_id(self, dedupe_key: str) -> str | None:
        """The call a stored event belongs to."""
        rows = self.db.query("SELECT call_id FROM call_events WHERE dedupe_key = ?", (dedupe_key,))
        return rows[0]["call_id"] if rows else None

    def attach_event(self, dedupe_key: str, call_id: str) -> None:
        self.db.execute("UPDATE call_events SET call_id = ? WHERE dedupe_key = ?", (call_id, dedupe_key))

    def events(self, call_id: str) -> list[dict[str, Any]]:
        rows = self.db.query(
            "SELECT kind, payload, received_at FROM call_events WHERE call_id = ? ORDER BY id", (call_id,)
        )
        return [_row(r) for r in rows]  # type: ignore[misc]

    def add_transcript(self, call_id: str, speaker: str, text: str, at: float | None = None) -> None:
        now = at or time.time()
        self.db.execute(
            "INSERT INTO transcript (call_id, at, speaker, text) VALUES (?, ?, ?, ?)", (call_id, now, speaker, text)
        )

    def transcript(self, call_id: str) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT at, speaker, text FROM transcript WHERE call_id = ? ORDER BY id", (call_id,))
        return [dict(r) for r in rows]
