"""open tabs bound to the login session they were signed in with

Revision ID: 0018
Revises: 0017
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_tab",
        sa.Column("client_token", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("bound_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("client_token"),
    )
    op.create_index(op.f("ix_live_tab_session_id"), "live_tab", ["session_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_live_tab_session_id"), table_name="live_tab")
    op.drop_table("live_tab")
