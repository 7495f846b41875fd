"""emailed links bound to the browser that asked for them: the hash of that browser's cookie on sign-up
requests and password resets (NULL: no binding, the person confirms the account instead)

Revision ID: 0017
Revises: 0016
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("signup_request") as batch:
        batch.add_column(sa.Column("browser_hash", sa.String(length=64), nullable=True))
    with op.batch_alter_table("password_reset") as batch:
        batch.add_column(sa.Column("browser_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("password_reset") as batch:
        batch.drop_column("browser_hash")
    with op.batch_alter_table("signup_request") as batch:
        batch.drop_column("browser_hash")
