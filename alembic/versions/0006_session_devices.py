"""device details of login sessions

Revision ID: 0006
Revises: 0005
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (("browser", 80), ("operating_system", 80), ("screen", 20), ("language", 35))


def upgrade() -> None:
    with op.batch_alter_table("auth_session") as batch:
        for name, length in COLUMNS:
            batch.add_column(sa.Column(name, sa.String(length=length), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("auth_session") as batch:
        for name, _ in COLUMNS:
            batch.drop_column(name)
