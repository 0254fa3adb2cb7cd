"""What the platform's CDR says about a call, and every platform id a call is known by.

An answered CDR carries the answer time, the end time, the billed duration and
the platform's cost fields (``call_rate`` and ``balance``, text as sent: the
docs send them as strings or numbers). A call is known by several platform ids
(the ``request_id`` make_call returned, each leg's ``cmiuuid``, the
``conversation_uuid``); ``call_legs`` maps each one to the call.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("talk_seconds", sa.Double))
        batch.add_column(sa.Column("billed_seconds", sa.Double))
        batch.add_column(sa.Column("call_rate", sa.Text))
        batch.add_column(sa.Column("balance", sa.Text))
    op.create_table(
        "call_legs",
        sa.Column("platform_id", sa.Text, primary_key=True),
        sa.Column("call_id", sa.Text, nullable=False),
        sa.Column("leg", sa.Text),
        sa.Column("created_at", sa.Double, nullable=False),
    )
    op.create_index("call_legs_call", "call_legs", ["call_id"])


def downgrade() -> None:
    op.drop_index("call_legs_call", table_name="call_legs")
    op.drop_table("call_legs")
    with op.batch_alter_table("calls") as batch:
        for name in ("balance", "call_rate", "billed_seconds", "talk_seconds"):
            batch.drop_column(name)
