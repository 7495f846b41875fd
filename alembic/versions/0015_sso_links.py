"""single sign-on matches linked provider accounts: sso_link, and link attempts bound to a member's session

Revision ID: 0015
Revises: 0014
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sso_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("owner_sign_in", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("linked_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name=op.f("fk_sso_link_org_id_organisation"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_sso_link_user_id_app_user"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_link")),
        sa.UniqueConstraint("org_id", "user_id", name="uq_sso_link_member"),
        sa.UniqueConstraint("org_id", "issuer", "subject", name="uq_sso_link_subject"),
    )
    op.create_index(op.f("ix_sso_link_user_id"), "sso_link", ["user_id"])
    # Attempts live ten minutes: the ones in flight when this runs are simply sign-ins (the default).
    with op.batch_alter_table("sso_login_attempt") as batch:
        batch.add_column(sa.Column("purpose", sa.String(length=8), server_default="login", nullable=False))
        batch.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("session_id", sa.String(length=64), nullable=True))
        batch.create_foreign_key(batch.f("fk_sso_login_attempt_user_id_app_user"), "app_user", ["user_id"], ["id"],
                                 ondelete="CASCADE")


def downgrade() -> None:
    with op.batch_alter_table("sso_login_attempt") as batch:
        batch.drop_constraint(batch.f("fk_sso_login_attempt_user_id_app_user"), type_="foreignkey")
        batch.drop_column("session_id")
        batch.drop_column("user_id")
        batch.drop_column("purpose")
    op.drop_index(op.f("ix_sso_link_user_id"), table_name="sso_link")
    op.drop_table("sso_link")
