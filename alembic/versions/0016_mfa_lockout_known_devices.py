"""second-factor lockout per person, known devices in sign-in limits, emailed second-factor resets

The person's wrong-code count, lock and back-off live on their factor row (counted across every sign-in
and step-up); a sign-in attempt records the known device it came from, so strangers' failures do not lock
the owner's usual browsers; a person resets their own factor with an emailed link.

Revision ID: 0016
Revises: 0015
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mfa_factor") as batch:
        batch.add_column(sa.Column("failed_attempts", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("locked_until", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("lockouts", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("login_attempt") as batch:
        batch.add_column(sa.Column("device_hash", sa.String(length=64), server_default="", nullable=False))
    op.create_table(
        "mfa_factor_reset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_mfa_factor_reset_user_id_app_user"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mfa_factor_reset")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_mfa_factor_reset_token_hash")),
    )
    op.create_index(op.f("ix_mfa_factor_reset_user_id"), "mfa_factor_reset", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_mfa_factor_reset_user_id"), table_name="mfa_factor_reset")
    op.drop_table("mfa_factor_reset")
    with op.batch_alter_table("login_attempt") as batch:
        batch.drop_column("device_hash")
    with op.batch_alter_table("mfa_factor") as batch:
        for name in ("lockouts", "locked_until", "failed_attempts"):
            batch.drop_column(name)
