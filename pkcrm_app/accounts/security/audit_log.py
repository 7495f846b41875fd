"""Reading the audit log: filtered pages for the admin screen and a CSV export."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity.models import User
from pkcrm_app.audit.models import AuditEvent
from pkcrm_app.audit.service import record
from pkcrm_app.core.authz import Actor, Permission
from pkcrm_app.core.spreadsheet import csv_writer

CSV_HEADER = ("id", "time_utc", "actor", "action", "target", "ip_address", "device", "details", "entry_hash")


@dataclass(frozen=True)
class AuditFilter:
    action: str = ""
    actor_email: str = ""
    since: date | None = None
    until: date | None = None


@dataclass(frozen=True)
class AuditRow:
    event_id: int
    created_at: datetime
    actor: str
    action: str
    target: str
    ip_address: str
    device: str
    details: str
    entry_hash: str


def _query(actor: Actor, flt: AuditFilter) -> Select[AuditEvent, str]:
    actor.require(Permission.AUDIT_VIEW)
    conditions: list[ColumnElement[bool]] = [AuditEvent.org_id == actor.org_id]
    if flt.action:
        conditions.append(AuditEvent.action.startswith(flt.action.strip()))
    if flt.actor_email:
        conditions.append(func.lower(User.email) == flt.actor_email.strip().lower())
    if flt.since:
        conditions.append(AuditEvent.created_at >= datetime.combine(flt.since, time.min))
    if flt.until:
        conditions.append(AuditEvent.created_at < datetime.combine(flt.until + timedelta(days=1), time.min))
    return (select(AuditEvent, User.email).outerjoin(User, User.id == AuditEvent.actor_user_id)
            .where(*conditions).order_by(AuditEvent.id.desc()))


def _row(event: AuditEvent, email: str | None) -> AuditRow:
    target = f"{event.target_type} {event.target_id}".strip()
    return AuditRow(event_id=event.id, created_at=event.created_at, actor=email or "system", action=event.action,
                    target=target, ip_address=event.ip_address, device=event.device or "",
                    details=json.dumps(event.details, sort_keys=True) if event.details else "",
                    entry_hash=event.entry_hash)


def list_events(db: Session, actor: Actor, flt: AuditFilter, *, page: int = 1,
                page_size: int = 50) -> tuple[list[AuditRow], int]:
    """One page of the organisation's audit events, newest first, and how many match in all."""
    query = _query(actor, flt)
    total = db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = db.execute(query.offset(max(0, page - 1) * page_size).limit(page_size)).all()
    return [_row(event, email) for event, email in rows], total


def record_export(db: Session, actor: Actor, flt: AuditFilter, *, ip_address: str = "", device: str = "") -> None:
    """Audit an export before it starts (the caller commits it before streaming `export_csv`); a data export,
    so it needs a fresh second factor (step-up)."""
    actor.require_step_up(Permission.AUDIT_VIEW)
    record(db, action="audit.exported", org_id=actor.org_id, actor_user_id=actor.user_id,
           details={"action": flt.action, "actor_email": flt.actor_email, "since": str(flt.since or ""),
                    "until": str(flt.until or "")}, ip_address=ip_address, device=device)


def export_csv(db: Session, actor: Actor, flt: AuditFilter) -> Iterator[str]:
    """Every matching event as CSV lines, streamed (step-up, like `record_export` that audits it first)."""
    actor.require_step_up(Permission.AUDIT_VIEW)
    query = _query(actor, flt)
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    writer.writerow(CSV_HEADER)
    for event, email in db.execute(query.execution_options(yield_per=500)):
        row = _row(event, email)
        writer.writerow((row.event_id, row.created_at.isoformat(), row.actor, row.action, row.target,
                         row.ip_address, row.device, row.details, row.entry_hash))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
