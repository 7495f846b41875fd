"""OpenID Connect single sign-on per organisation

Revision ID: 0009
Revises: 0008
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sso_connection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("client_secret", sa.LargeBinary(), nullable=True),  # EncryptedText: AES-GCM ciphertext
        sa.Column("enabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name=op.f("fk_sso_connection_org_id_organisation"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_connection")),
        sa.UniqueConstraint("org_id", name=op.f("uq_sso_connection_org_id")),
    )
    op.create_table(
        "sso_login_attempt",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("code_verifier", sa.LargeBinary(), nullable=False),  # EncryptedText: AES-GCM ciphertext
        sa.Column("redirect_uri", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"],
                                name=op.f("fk_sso_login_attempt_org_id_organisation"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_login_attempt")),
    )
    with op.batch_alter_table("sso_login_attempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sso_login_attempt_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sso_login_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sso_login_attempt_org_id"))
    op.drop_table("sso_login_attempt")
    op.drop_table("sso_connection")
