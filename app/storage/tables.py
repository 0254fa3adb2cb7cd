"""The one schema, for SQLite and PostgreSQL alike: what the code queries (SQLAlchemy Core tables).

The database itself is made and changed only by the versioned migrations in
``app/storage/migrations/versions``; a test checks that upgrading an empty database to
the newest migration yields exactly these tables, on both engines.

Times are epoch seconds as doubles; JSON documents are stored as text, so the
same statements run unchanged on both engines.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()


class Text(sa.types.TypeDecorator):
    """Text that both engines can hold: PostgreSQL refuses NUL, so it is stored as U+FFFD on both.

    Only odd input carries NUL (a webhook's form body); the raw body is kept
    JSON-escaped in ``extra``, so nothing is lost that the escape could keep.
    """

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return value.replace("\x00", "\ufffd") if isinstance(value, str) and "\x00" in value else value


# SQLite's rowid alias must be INTEGER; PostgreSQL gets a 64-bit identity.
ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

calls = sa.Table(
    "calls",
    metadata,
    sa.Column("id", Text, primary_key=True),
    sa.Column("platform_id", Text),
    sa.Column("direction", Text, nullable=False),
    sa.Column("from_number", Text),
    sa.Column("to_number", Text),
    sa.Column("agent", Text),
    sa.Column("state", Text, nullable=False),
    sa.Column("end_reason", Text),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Column("answered_at", sa.Double),
    sa.Column("ended_at", sa.Double),
    sa.Column("platform_response", Text),
    sa.Column("extra", Text, nullable=False, server_default="{}"),
    sa.Column("node", Text),  # the node that holds (or last held) the call's socket
    # From the platform's answered CDR (migration 0003): talk time = end_time - answer_time, the billed
    # duration, and the cost fields as the platform sent them (text: strings or numbers in its docs).
    sa.Column("talk_seconds", sa.Double),
    sa.Column("billed_seconds", sa.Double),
    sa.Column("call_rate", Text),
    sa.Column("balance", Text),
    sa.Index("calls_platform_id", "platform_id"),
    sa.Index("calls_created_at", "created_at"),
    sa.Index("calls_state", "state"),
    sa.Index("calls_node_state", "node", "state"),
)

call_events = sa.Table(
    "call_events",
    metadata,
    sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("call_id", Text),
    sa.Column("dedupe_key", Text, nullable=False, unique=True),
    sa.Column("kind", Text, nullable=False),
    sa.Column("payload", Text, nullable=False),
    sa.Column("received_at", sa.Double, nullable=False),
    sa.Index("call_events_call", "call_id"),
    sqlite_autoincrement=True,
)

call_legs = sa.Table(  # every platform id a call is known by: request_id, each leg's cmiuuid, conversation_uuid
    "call_legs",
    metadata,
    sa.Column("platform_id", Text, primary_key=True),
    sa.Column("call_id", Text, nullable=False),
    sa.Column("leg", Text),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Index("call_legs_call", "call_id"),
)

timeline = sa.Table(
    "timeline",
    metadata,
    sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("call_id", Text, nullable=False),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("kind", Text, nullable=False),
    sa.Column("detail", Text, nullable=False, server_default="{}"),
    sa.Index("timeline_call", "call_id", "id"),
    sa.Index("timeline_kind_at", "kind", "at"),
    sqlite_autoincrement=True,
)

transcript = sa.Table(
    "transcript",
    metadata,
    sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("call_id", Text, nullable=False),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("speaker", Text, nullable=False),
    sa.Column("text", Text, nullable=False),
    sa.Index("transcript_call", "call_id", "id"),
    sqlite_autoincrement=True,
)

# Dashboard sign-ins (app/storage/sign_ins.py): a session cookie is good only while its row is open.
sign_ins = sa.Table(
    "sign_ins",
    metadata,
    sa.Column("id", Text, primary_key=True),
    sa.Column("user_name", Text, nullable=False),
    sa.Column("password_mark", Text, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("expires_at", sa.Double, nullable=False),
    sa.Column("ended_at", sa.Double),
    sa.Index("sign_ins_expires_at", "expires_at"),
)

# Outgoing webhooks waiting to be sent (app/storage/outbox.py, migration 0005): written with what they
# announce (a call's end, a transfer), sent by one delivery greenlet somewhere, kept across restarts.
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
    sa.Column("call_id", Text, nullable=False),
    sa.Column("event", Text, nullable=False),  # call.ended, transfer.started, transfer.answered, transfer.unanswered
    sa.Column("msg_id", Text, nullable=False),  # webhook-id: the same on every attempt
    sa.Column("state", Text, nullable=False),  # pending, sending, delivered, failed, skipped
    sa.Column("data", Text, nullable=False, server_default="{}"),  # what was known when it was written
    sa.Column("payload", Text),  # the body, made at the first attempt and sent unchanged after
    sa.Column("url", Text),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_status", Text),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("next_at", sa.Double, nullable=False),
    sa.Column("claimed_by", Text),
    sa.Column("claimed_at", sa.Double),
    sa.Column("done_at", sa.Double),
    sa.Index("outbox_state_next", "state", "next_at"),
    sa.Index("outbox_call", "call_id"),
    sqlite_autoincrement=True,
)
