"""one job runner (leases on the queue tables, a `job` table for kinds without one) and scoped data keys

Revision ID: 0019
Revises: 0018
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The existing data key becomes the legacy scope: every encrypted column and every file sealed so far.
    with op.batch_alter_table("encryption_key") as batch:
        batch.add_column(sa.Column("scope", sa.String(length=64), nullable=False, server_default="legacy"))
        batch.create_index(batch.f("ix_encryption_key_scope"), ["scope"])
    # Downloads and imports are claimed with a lease like the outbox (a running import left by a dead worker has
    # no lease: the runner claims it again at once).
    for table in ("message_media", "chat_import_job"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
            batch.add_column(sa.Column("lease_until", sa.DateTime(), nullable=True))
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.Enum("queued", "running", "done", "failed", name="jobstate", native_enum=False,
                                   length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", sa.DateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name=op.f("fk_job_org_id_organisation"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
        sa.UniqueConstraint("key", name=op.f("uq_job_key")),
    )
    op.create_index("ix_job_due", "job", ["kind", "state", "run_after"])
    op.create_index(op.f("ix_job_org_id"), "job", ["org_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_job_org_id"), table_name="job")
    op.drop_index("ix_job_due", table_name="job")
    op.drop_table("job")
    for table in ("chat_import_job", "message_media"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("lease_until")
            batch.drop_column("lease_owner")
    with op.batch_alter_table("encryption_key") as batch:
        batch.drop_index(batch.f("ix_encryption_key_scope"))
        batch.drop_column("scope")
