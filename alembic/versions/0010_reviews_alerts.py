"""access reviews and security alerts

Revision ID: 0010
Revises: 0009
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = sa.Enum("owner", "admin", "manager", "agent", name="role", native_enum=False, length=16)


def _user_fk(column: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["app_user.id"], name=op.f(f"fk_{table}_{column}_app_user"),
                                   ondelete="SET NULL")


def upgrade() -> None:
    with op.batch_alter_table("organisation") as batch:
        batch.add_column(sa.Column("access_review_interval_days", sa.Integer(), server_default="90", nullable=False))

    op.create_table(
        "access_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("started_by_user_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("completed_by_user_id", sa.Integer(), nullable=True),
        sa.Column("next_due_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name=op.f("fk_access_review_org_id_organisation"),
                                ondelete="CASCADE"),
        _user_fk("started_by_user_id", "access_review"),
        _user_fk("completed_by_user_id", "access_review"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_review")),
    )
    op.create_index(op.f("ix_access_review_org_id"), "access_review", ["org_id"])

    op.create_table(
        "access_review_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role_at_review", ROLE, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.Column("mfa_enabled", sa.Boolean(), nullable=False),
        sa.Column("reach", sa.Text(), nullable=False),
        sa.Column("reach_details", sa.JSON(), nullable=False),
        sa.Column("decision", sa.Enum("keep", "change", "revoke", name="reviewdecision", native_enum=False,
                                      length=16), nullable=True),
        sa.Column("new_role", ROLE, nullable=True),
        sa.Column("decided_by_user_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["review_id"], ["access_review.id"],
                                name=op.f("fk_access_review_item_review_id_access_review"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_access_review_item_user_id_app_user"),
                                ondelete="CASCADE"),
        _user_fk("decided_by_user_id", "access_review_item"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_review_item")),
        sa.UniqueConstraint("review_id", "user_id", name=op.f("uq_access_review_item_review_id")),
    )
    op.create_index(op.f("ix_access_review_item_review_id"), "access_review_item", ["review_id"])
    op.create_index(op.f("ix_access_review_item_user_id"), "access_review_item", ["user_id"])

    op.create_table(
        "security_alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Enum("new_device", "failed_logins", "export_volume", name="alertkind", native_enum=False,
                                  length=20), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("message", sa.String(length=400), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("acknowledged_by_user_id", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name=op.f("fk_security_alert_org_id_organisation"),
                                ondelete="CASCADE"),
        _user_fk("user_id", "security_alert"),
        _user_fk("acknowledged_by_user_id", "security_alert"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_alert")),
    )
    op.create_index("ix_security_alert_org_id_id", "security_alert", ["org_id", "id"])
    op.create_index("ix_security_alert_user_kind", "security_alert", ["user_id", "kind", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_security_alert_user_kind", table_name="security_alert")
    op.drop_index("ix_security_alert_org_id_id", table_name="security_alert")
    op.drop_table("security_alert")
    op.drop_index(op.f("ix_access_review_item_user_id"), table_name="access_review_item")
    op.drop_index(op.f("ix_access_review_item_review_id"), table_name="access_review_item")
    op.drop_table("access_review_item")
    op.drop_index(op.f("ix_access_review_org_id"), table_name="access_review")
    op.drop_table("access_review")
    with op.batch_alter_table("organisation") as batch:
        batch.drop_column("access_review_interval_days")
