"""every inbound message type: media, reactions, context, referrals

Revision ID: 0012
Revises: 0011
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("content", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("context_wamid", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("reacts_to", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("forwarded", sa.String(length=12), nullable=True))
    op.create_table(
        "message_media",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("phone_number_id", sa.String(length=64), nullable=False),
        sa.Column("media_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("mime_type", sa.String(length=128), nullable=False),
        sa.Column("sha256", sa.String(length=128), nullable=False),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("state", sa.Enum("pending", "stored", "failed", name="mediastate", native_enum=False, length=8),
                  nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("stored_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"], name=op.f("fk_message_media_message_id_message"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name=op.f("fk_message_media_org_id_organisation"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_message_media")),
    )
    op.create_index("ix_message_media_due", "message_media", ["state", "next_attempt_at"])
    op.create_index(op.f("ix_message_media_org_id"), "message_media", ["org_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_message_media_org_id"), table_name="message_media")
    op.drop_index("ix_message_media_due", table_name="message_media")
    op.drop_table("message_media")
    with op.batch_alter_table("message") as batch:
        batch.drop_column("forwarded")
        batch.drop_column("reacts_to")
        batch.drop_column("context_wamid")
        batch.drop_column("content")
