"""connection settings, outbox, templates

Revision ID: 0013
Revises: 0012
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("whatsapp_number") as batch:
        batch.add_column(sa.Column("business_account_id", sa.String(length=64), server_default="", nullable=False))
        batch.add_column(sa.Column("messages_per_second", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))
    op.create_table(
        "outbox_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),  # EncryptedJSON: AES-GCM ciphertext
        sa.Column("media_path", sa.String(length=300), nullable=True),
        sa.Column("media_type", sa.String(length=100), nullable=True),
        sa.Column("media_id", sa.String(length=200), nullable=True),
        sa.Column("state", sa.Enum("queued", "in_flight", "unconfirmed", "sent", "failed", name="outboxstate",
                                   native_enum=False, length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("call_started_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("wa_message_id", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"], name=op.f("fk_outbox_item_message_id_message"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["number_id"], ["whatsapp_number.id"],
                                name=op.f("fk_outbox_item_number_id_whatsapp_number"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name=op.f("fk_outbox_item_org_id_organisation"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_item")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_item_idempotency_key")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbox_item_message_id")),
    )
    op.create_index("ix_outbox_item_due", "outbox_item", ["state", "next_attempt_at"])
    op.create_index(op.f("ix_outbox_item_org_id"), "outbox_item", ["org_id"])
    op.create_index(op.f("ix_outbox_item_number_id"), "outbox_item", ["number_id"])
    op.create_table(
        "message_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("buttons", sa.JSON(), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name=op.f("fk_message_template_org_id_organisation"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_template")),
        sa.UniqueConstraint("org_id", "name", "language", name=op.f("uq_message_template_org_id")),
    )
    op.create_index(op.f("ix_message_template_org_id"), "message_template", ["org_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_message_template_org_id"), table_name="message_template")
    op.drop_table("message_template")
    op.drop_index(op.f("ix_outbox_item_number_id"), table_name="outbox_item")
    op.drop_index(op.f("ix_outbox_item_org_id"), table_name="outbox_item")
    op.drop_index("ix_outbox_item_due", table_name="outbox_item")
    op.drop_table("outbox_item")
    with op.batch_alter_table("whatsapp_number") as batch:
        batch.drop_column("updated_at")
        batch.drop_column("messages_per_second")
        batch.drop_column("business_account_id")
