"""audit log hash chain: device, prev_hash and entry_hash columns; append-only triggers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 09:00:00

Existing rows get empty hashes (verify reports them as altered; there are none in practice).
The triggers refuse UPDATE and DELETE of audit entries on both backends. On SQLite a future
batch migration that recreates audit_event drops them: create them again in that migration.
"""
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_TRIGGER = """
CREATE FUNCTION audit_event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_event is append-only: % of entry % refused', TG_OP, OLD.id
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change();
"""

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER audit_event_no_{verb.lower()} BEFORE {verb} ON audit_event
    BEGIN SELECT RAISE(ABORT, 'audit_event is append-only: {verb} refused'); END"""
    for verb in ("UPDATE", "DELETE")
]


def upgrade() -> None:
    op.add_column('audit_event', sa.Column('device', sa.String(length=400), nullable=True))
    op.add_column('audit_event', sa.Column('prev_hash', sa.String(length=64), server_default='', nullable=False))
    op.add_column('audit_event', sa.Column('entry_hash', sa.String(length=64), server_default='', nullable=False))
    # (org_id, id) finds a chain's latest entry and walks a chain in order; it also serves org_id alone.
    op.create_index('ix_audit_event_org_id_id', 'audit_event', ['org_id', 'id'], unique=False)
    op.drop_index('ix_audit_event_org_id', table_name='audit_event')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(PG_TRIGGER)
    elif op.get_bind().dialect.name == 'sqlite':
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event')
        op.execute('DROP FUNCTION IF EXISTS audit_event_refuse_change()')
    elif op.get_bind().dialect.name == 'sqlite':
        op.execute('DROP TRIGGER IF EXISTS audit_event_no_update')
        op.execute('DROP TRIGGER IF EXISTS audit_event_no_delete')
    op.create_index('ix_audit_event_org_id', 'audit_event', ['org_id'], unique=False)
    op.drop_index('ix_audit_event_org_id_id', table_name='audit_event')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_column('entry_hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('device')
