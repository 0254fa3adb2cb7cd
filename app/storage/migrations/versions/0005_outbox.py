"""The outbox: outgoing webhooks (call.ended, transfer.*) written with what they announce, so that none is
lost when the process stops before it is sent; one delivery greenlet claims each row (#23.2).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.Text, nullable=False),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("msg_id", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False, server_default="{}"),
        sa.Column("payload", sa.Text),
        sa.Column("url", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_status", sa.Text),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("next_at", sa.Double, nullable=False),
        sa.Column("claimed_by", sa.Text),
        sa.Column("claimed_at", sa.Double),
        sa.Column("done_at", sa.Double),
        sqlite_autoincrement=True,
    )
    op.create_index("outbox_state_next", "outbox", ["state", "next_at"])
    op.create_index("outbox_call", "outbox", ["call_id"])


def downgrade() -> None:
    op.drop_index("outbox_call", table_name="outbox")
    op.drop_index("outbox_state_next", table_name="outbox")
    op.drop_table("outbox")
