"""a lead's last activity (its conversation's newest message, else its creation), indexed per column: the board
reads each column's newest cards through the index instead of ranking every lead of the pipeline, and its
counts and totals from a covering index

Revision ID: 0020
Revises: 0019
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lead") as batch:
        batch.add_column(sa.Column("last_activity_at", sa.DateTime(), nullable=True))
    op.execute(
        "UPDATE lead SET last_activity_at = COALESCE((SELECT MAX(c.last_message_at) FROM conversation c "
        "WHERE c.org_id = lead.org_id AND c.contact_id = lead.contact_id), lead.created_at)")
    with op.batch_alter_table("lead") as batch:
        batch.alter_column("last_activity_at", existing_type=sa.DateTime(), nullable=False)
        batch.create_index("ix_lead_activity", ["org_id", "pipeline_id", "stage_id", "last_activity_at"])
        batch.create_index("ix_lead_totals", ["org_id", "pipeline_id", "stage_id", "currency", "value"])


def downgrade() -> None:
    with op.batch_alter_table("lead") as batch:
        batch.drop_index("ix_lead_totals")
        batch.drop_index("ix_lead_activity")
        batch.drop_column("last_activity_at")
