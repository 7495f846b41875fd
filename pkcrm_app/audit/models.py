"""The audit event table, and the ORM guard that keeps it append-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, String, event
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, UOWTransaction, mapped_column

from pkcrm_app.core.db import Base, utcnow


class AuditEvent(Base):
    """Who did what, when, from where; never updated or deleted; hash-chained per organisation."""

    __tablename__ = "audit_event"
    # A chain is read in id order within one organisation: its latest entry on append, all of it on verify.
    __table_args__ = (Index("ix_audit_event_org_id_id", "org_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), nullable=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str] = mapped_column(String(40), default="")
    target_id: Mapped[str] = mapped_column(String(64), default="")
    details: Mapped[Any] = mapped_column(JSON, default=dict)
    ip_address: Mapped[str] = mapped_column(String(64), default="")
    device: Mapped[str | None] = mapped_column(String(400), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    prev_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")
    entry_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")


class AuditLogIsAppendOnly(RuntimeError):
    """Code tried to change or remove an audit entry; entries are only ever added."""


@event.listens_for(Session, "before_flush")
def _refuse_changed_entries(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    for obj in session.deleted:
        if isinstance(obj, AuditEvent):
            raise AuditLogIsAppendOnly(f"audit log is append-only: refusing to delete entry {obj.id}")
    for obj in session.dirty:
        if isinstance(obj, AuditEvent) and session.is_modified(obj):
            raise AuditLogIsAppendOnly(f"audit log is append-only: refusing to update entry {obj.id}")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_changes(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and any(m.class_ is AuditEvent for m in state.all_mappers):
        verb = "update" if state.is_update else "delete"
        raise AuditLogIsAppendOnly(f"audit log is append-only: refusing a bulk {verb} of audit entries")
