"""chat-export import jobs

Revision ID: 0014
Revises: 0013
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_import_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("filename", sa.LargeBinary(), nullable=False),
        sa.Column("spool_path", sa.String(length=500), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("contact_phone", sa.LargeBinary(), nullable=True),
        sa.Column("my_name", sa.LargeBinary(), nullable=True),
        sa.Column("state", sa.Enum("queued", "running", "done", "failed", name="importstate", native_enum=False,
                                   length=8), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("media_stored", sa.Integer(), nullable=False),
        sa.Column("authors", sa.LargeBinary(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name=op.f("fk_chat_import_job_org_id_organisation"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by_user_id"], ["app_user.id"],
                                name=op.f("fk_chat_import_job_created_by_user_id_app_user"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"], name=op.f("fk_chat_import_job_contact_id_contact"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["lead_id"], ["lead.id"], name=op.f("fk_chat_import_job_lead_id_lead"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_import_job")),
    )
    op.create_index("ix_chat_import_job_recent", "chat_import_job", ["org_id", "created_at"])
    op.create_index(op.f("ix_chat_import_job_org_id"), "chat_import_job", ["org_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_chat_import_job_org_id"), table_name="chat_import_job")
    op.drop_index("ix_chat_import_job_recent", table_name="chat_import_job")
    op.drop_table("chat_import_job")
