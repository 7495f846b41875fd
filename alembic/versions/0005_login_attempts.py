"""login attempts for throttling and lockout

Revision ID: 0005
Revises: 0004
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempt")),
    )
    op.create_index("ix_login_attempt_email", "login_attempt", ["email_hash", "created_at"])
    op.create_index("ix_login_attempt_ip", "login_attempt", ["ip_address", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_login_attempt_ip", table_name="login_attempt")
    op.drop_index("ix_login_attempt_email", table_name="login_attempt")
    op.drop_table("login_attempt")
