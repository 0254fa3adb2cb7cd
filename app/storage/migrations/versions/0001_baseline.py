"""Baseline: the schema as it stood before migrations (CREATE TABLE IF NOT EXISTS at every start).

A database made by an earlier version already has these tables: they are kept
as they are (adopted) and only what is missing is created. The tables are
written out here, frozen, rather than taken from app/storage/tables.py, which moves on.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _tables() -> sa.MetaData:
    meta = sa.MetaData()
    sa.Table(
        "calls",
        meta,
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("platform_id", sa.Text),
        sa.Column("direction", sa.Text, nullable=False),
        sa.Column("from_number", sa.Text),
        sa.Column("to_number", sa.Text),
        sa.Column("agent", sa.Text),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("end_reason", sa.Text),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Column("answered_at", sa.Double),
        sa.Column("ended_at", sa.Double),
        sa.Column("platform_response", sa.Text),
        sa.Column("extra", sa.Text, nullable=False, server_default="{}"),
        sa.Index("calls_platform_id", "platform_id"),
        sa.Index("calls_created_at", "created_at"),
        sa.Index("calls_state", "state"),
    )
    sa.Table(
        "call_events",
        meta,
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.Text),
        sa.Column("dedupe_key", sa.Text, nullable=False, unique=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("received_at", sa.Double, nullable=False),
        sa.Index("call_events_call", "call_id"),
        sqlite_autoincrement=True,
    )
    sa.Table(
        "timeline",
        meta,
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.Text, nullable=False),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False, server_default="{}"),
        sa.Index("timeline_call", "call_id", "id"),
        sa.Index("timeline_kind_at", "kind", "at"),
        sqlite_autoincrement=True,
    )
    sa.Table(
        "transcript",
        meta,
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.Text, nullable=False),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("speaker", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Index("transcript_call", "call_id", "id"),
        sqlite_autoincrement=True,
    )
    return meta


def upgrade() -> None:
    bind = op.get_bind()
    for table in _tables().sorted_tables:
        table.create(bind, checkfirst=True)  # creates its indexes with it
        for index in table.indexes:  # an older file may lack a later index (timeline_kind_at)
            index.create(bind, checkfirst=True)


def downgrade() -> None:
    for name in ("transcript", "timeline", "call_events", "calls"):
        op.drop_table(name)
