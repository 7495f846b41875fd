"""Security alerts for an organisation's admins: a sign-in from a device never seen for that user, a burst
of failed logins, an unusual volume of exports, a second factor locked by wrong codes or reset by email.
Each alert is a row admins acknowledge, an audit entry, and a live event that moves the alert bell on every
open admin tab.

The login, second-factor and export code call the detectors (`note_sign_in`, `note_failed_login`,
`note_factor_event`, `note_export`) inside their own transaction, after recording what happened; the caller
commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from pkcrm_app.accounts.identity.models import AuthSession, Membership, User
from pkcrm_app.accounts.security.models import AlertKind, SecurityAlert
from pkcrm_app.audit.models import AuditEvent
from pkcrm_app.audit.service import record
from pkcrm_app.core.authz import Actor, Permission
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import NotFound, PermissionDenied
from pkcrm_app.core.events import AlertsChanged, emit_on_commit

FAILED_LOGIN_WINDOW = timedelta(minutes=10)
FAILED_LOGIN_THRESHOLD = 5  # this many failures of one user within the window raise an alert
EXPORT_WINDOW = timedelta(hours=1)
EXPORT_LIMIT = 5  # more exports than this by one user within the window raise an alert
EXPORT_ACTION_SUFFIX = ".exported"  # audit.exported today; any later "<thing>.exported" counts as well


def raise_alert(db: Session, org_id: int, kind: AlertKind, message: str, user_id: int | None = None,
                details: dict[str, Any] | None = None) -> SecurityAlert:
    """Store an alert for the organisation's admins, audit it, and push it to their open tabs after commit."""
    alert = SecurityAlert(org_id=org_id, kind=kind, user_id=user_id, message=message[:400], details=details or {},
                          created_at=utcnow())
    db.add(alert)
    db.flush()
    record(db, action="security.alert", org_id=org_id, target_type="security_alert", target_id=alert.id,
           details={"kind": kind.value, "user_id": user_id or "", "message": alert.message, **(details or {})})
    emit_on_commit(db, AlertsChanged(org_id=org_id, alert_id=alert.id))
    return alert


def _family(name: str) -> str:
    """'Chrome 156' -> 'Chrome', 'macOS 10.15' -> 'macOS': updates do not make a device new."""
    return (name or "Unknown").split(" ", 1)[0]


def _user_name(db: Session, user_id: int) -> str:
    return db.scalar(select(User.name).where(User.id == user_id)) or f"user {user_id}"


def _recent_alert(db: Session, user_id: int, kind: AlertKind, since: datetime) -> bool:
    return db.scalar(select(SecurityAlert.id).where(SecurityAlert.user_id == user_id, SecurityAlert.kind == kind,
                                                    SecurityAlert.created_at >= since).limit(1)) is not None


def note_sign_in(db: Session, *, user_id: int, org_id: int, session_id: str, browser: str, operating_system: str,
                 ip: str) -> SecurityAlert | None:
    """Alert when a user who signed in before does so from a browser family and operating system never seen
    for them; a first ever sign-in is not an alert. `session_id` is the new session (left out of the history)."""
    seen = db.execute(select(AuthSession.browser, AuthSession.operating_system)
                      .where(AuthSession.user_id == user_id, AuthSession.id != session_id)).all()
    if not seen:
        return None
    device = (_family(browser), _family(operating_system))
    if any((_family(b), _family(o)) == device for b, o in seen):
        return None
    name = _user_name(db, user_id)
    what = f"{browser or 'Unknown browser'} on {operating_system or 'unknown system'}"
    return raise_alert(db, org_id, AlertKind.NEW_DEVICE, f"{name} signed in from a new device: {what}"
                       + (f" ({ip})" if ip else ""), user_id,
                       {"browser": browser, "operating_system": operating_system, "ip": ip})


def note_failed_login(db: Session, *, user_id: int, org_id: int) -> SecurityAlert | None:
    """Alert when the user's account had FAILED_LOGIN_THRESHOLD or more failed sign-ins within the window
    (counted from the audit log, so record the failure first); at most one such alert per user per window."""
    since = utcnow() - FAILED_LOGIN_WINDOW
    failures = db.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "login.failed", AuditEvent.actor_user_id == user_id,
        AuditEvent.created_at >= since)) or 0
    if failures < FAILED_LOGIN_THRESHOLD or _recent_alert(db, user_id, AlertKind.FAILED_LOGINS, since):
        return None
    minutes = int(FAILED_LOGIN_WINDOW.total_seconds() // 60)
    return raise_alert(db, org_id, AlertKind.FAILED_LOGINS,
                       f"{failures} failed sign-ins to {_user_name(db, user_id)}'s account within {minutes} minutes",
                       user_id, {"failures": failures, "window_minutes": minutes})


def note_factor_event(db: Session, *, user_id: int, kind: AlertKind, message: str,
                      details: dict[str, Any] | None = None) -> list[SecurityAlert]:
    """Alert the admins of EVERY organisation the person belongs to: a second factor belongs to the person,
    so what happens to it (locked by wrong codes, reset by email) concerns each of them. The message names
    only the person, never the organisation it happened in."""
    org_ids = db.scalars(select(Membership.org_id).where(Membership.user_id == user_id).order_by(Membership.org_id))
    return [raise_alert(db, org_id, kind, message, user_id, details) for org_id in org_ids]


def note_export(db: Session, *, actor_user_id: int, org_id: int, kind: str) -> SecurityAlert | None:
    """Alert when one user made more than EXPORT_LIMIT exports within the window (counted from the audit
    log, so record the export first); at most one such alert per user per window."""
    since = utcnow() - EXPORT_WINDOW
    exports = db.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.org_id == org_id, AuditEvent.actor_user_id == actor_user_id,
        AuditEvent.action.endswith(EXPORT_ACTION_SUFFIX), AuditEvent.created_at >= since)) or 0
    if exports <= EXPORT_LIMIT or _recent_alert(db, actor_user_id, AlertKind.EXPORT_VOLUME, since):
        return None
    return raise_alert(db, org_id, AlertKind.EXPORT_VOLUME,
                       f"{_user_name(db, actor_user_id)} made {exports} exports within an hour (latest: {kind})",
                       actor_user_id, {"exports": exports, "latest": kind})


def _require_admin(actor: Actor) -> None:
    if not (actor.can(Permission.AUDIT_VIEW) or actor.can(Permission.MEMBERS_MANAGE)):
        raise PermissionDenied(f"your role ({actor.role.value}) may not see security alerts")


@dataclass(frozen=True)
class AlertView:
    alert_id: int
    kind: AlertKind
    message: str
    user_name: str
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str


def list_alerts(db: Session, actor: Actor, *, page: int = 1, page_size: int = 20,
                unacknowledged_only: bool = False) -> tuple[list[AlertView], int]:
    """One page of the organisation's alerts, newest first, and how many there are in all."""
    _require_admin(actor)
    subject, acknowledger = aliased(User), aliased(User)
    conditions = [SecurityAlert.org_id == actor.org_id]
    if unacknowledged_only:
        conditions.append(SecurityAlert.acknowledged_at.is_(None))
    total = db.scalar(select(func.count()).select_from(SecurityAlert).where(*conditions)) or 0
    rows = db.execute(
        select(SecurityAlert, subject.name, acknowledger.name)
        .outerjoin(subject, subject.id == SecurityAlert.user_id)
        .outerjoin(acknowledger, acknowledger.id == SecurityAlert.acknowledged_by_user_id)
        .where(*conditions).order_by(SecurityAlert.id.desc())
        .offset(max(0, page - 1) * page_size).limit(page_size)
    ).all()
    return [AlertView(alert_id=a.id, kind=a.kind, message=a.message, user_name=who or "", created_at=a.created_at,
                      acknowledged_at=a.acknowledged_at, acknowledged_by=by or "") for a, who, by in rows], total


def acknowledge(db: Session, actor: Actor, alert_id: int) -> None:
    """An admin has looked at the alert; it leaves the bell's count (acknowledging twice changes nothing)."""
    _require_admin(actor)
    alert = db.scalar(select(SecurityAlert).where(SecurityAlert.id == alert_id, SecurityAlert.org_id == actor.org_id))
    if alert is None:
        raise NotFound("no such alert")
    if alert.acknowledged_at is not None:
        return
    alert.acknowledged_at, alert.acknowledged_by_user_id = utcnow(), actor.user_id
    record(db, action="security.alert_acknowledged", org_id=actor.org_id, actor_user_id=actor.user_id,
           target_type="security_alert", target_id=alert.id, details={"kind": alert.kind.value})
    emit_on_commit(db, AlertsChanged(org_id=actor.org_id, alert_id=alert.id))


def unacknowledged_count(db: Session, actor: Actor) -> int:
    """How many alerts no admin has acknowledged yet (the number on the bell)."""
    _require_admin(actor)
    return db.scalar(select(func.count()).select_from(SecurityAlert).where(
        SecurityAlert.org_id == actor.org_id, SecurityAlert.acknowledged_at.is_(None))) or 0
