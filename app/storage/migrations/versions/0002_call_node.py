"""Which node holds each call: on start a node closes only the calls it left live.

Several nodes may share one PostgreSQL database; without this column a node
starting up could not tell its own stranded calls from another node's live ones.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("node", sa.Text))
    op.create_index("calls_node_state", "calls", ["node", "state"])


def downgrade() -> None:
    op.drop_index("calls_node_state", table_name="calls")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("node")
