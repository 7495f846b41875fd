"""MFA policy, second-factor state of sessions

Revision ID: 0007
Revises: 0006
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organisation") as batch:
        batch.add_column(sa.Column("mfa_policy", sa.String(length=16), server_default="off", nullable=False))
    with op.batch_alter_table("auth_session") as batch:
        batch.add_column(sa.Column("mfa_state", sa.String(length=8), server_default="none", nullable=False))
        batch.add_column(sa.Column("mfa_verified_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("mfa_failures", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("auth_session") as batch:
        for name in ("mfa_failures", "mfa_verified_at", "mfa_state"):
            batch.drop_column(name)
    with op.batch_alter_table("organisation") as batch:
        batch.drop_column("mfa_policy")
