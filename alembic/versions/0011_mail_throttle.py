"""limits on requests that send mail (sign-up, password reset)

Revision ID: 0011
Revises: 0010
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mail_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Enum("signup", "password_reset", name="mailkind", native_enum=False, length=16),
                  nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_request")),
    )
    op.create_index("ix_mail_request_email", "mail_request", ["kind", "email_hash", "created_at"])
    op.create_index("ix_mail_request_ip", "mail_request", ["kind", "ip_address", "created_at"])
    op.create_index("ix_mail_request_created_at", "mail_request", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_mail_request_created_at", table_name="mail_request")
    op.drop_index("ix_mail_request_ip", table_name="mail_request")
    op.drop_index("ix_mail_request_email", table_name="mail_request")
    op.drop_table("mail_request")
