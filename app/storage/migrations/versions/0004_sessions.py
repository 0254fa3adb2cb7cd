"""Dashboard sign-ins kept in the database, so that signing out, a changed password or "sign out
everywhere" ends a session everywhere (a copied cookie included), on every worker and host.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_ins",
        sa.Column("id", sa.Text, primary_key=True),  # SHA-256 of the token the session cookie carries
        sa.Column("user_name", sa.Text, nullable=False),
        sa.Column("password_mark", sa.Text, nullable=False),  # HMAC of the password it was signed in with
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("expires_at", sa.Double, nullable=False),
        sa.Column("ended_at", sa.Double),
    )
    op.create_index("sign_ins_expires_at", "sign_ins", ["expires_at"])


def downgrade() -> None:
    op.drop_index("sign_ins_expires_at", table_name="sign_ins")
    op.drop_table("sign_ins")
