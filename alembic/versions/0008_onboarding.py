"""sign-up, invitations, password resets, profile

Revision ID: 0008
Revises: 0007
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _token_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
    ]


def upgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(sa.Column("phone", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("language", sa.String(length=8), server_default="en", nullable=False))
        batch.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))
    op.create_table(
        "invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.Enum("owner", "admin", "manager", "agent", name="role", native_enum=False, length=16),
                  nullable=False),
        sa.Column("invited_by", sa.Integer(), nullable=True),
        *_token_columns(),
        sa.Column("accepted_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name=op.f("fk_invitation_org_id_organisation"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["invited_by"], ["app_user.id"], name=op.f("fk_invitation_invited_by_app_user"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitation")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitation_token_hash")),
    )
    op.create_index(op.f("ix_invitation_org_id"), "invitation", ["org_id"], unique=False)
    op.create_table(
        "signup_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("org_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        *_token_columns(),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signup_request")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_signup_request_token_hash")),
    )
    op.create_index(op.f("ix_signup_request_email"), "signup_request", ["email"], unique=False)
    op.create_table(
        "password_reset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        *_token_columns(),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_password_reset_user_id_app_user"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_reset")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_reset_token_hash")),
    )
    op.create_index(op.f("ix_password_reset_user_id"), "password_reset", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_password_reset_user_id"), table_name="password_reset")
    op.drop_table("password_reset")
    op.drop_index(op.f("ix_signup_request_email"), table_name="signup_request")
    op.drop_table("signup_request")
    op.drop_index(op.f("ix_invitation_org_id"), table_name="invitation")
    op.drop_table("invitation")
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("time_zone")
        batch.drop_column("language")
        batch.drop_column("phone")
