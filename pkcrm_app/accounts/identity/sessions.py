"""A user's signed-in devices: list them, end one, end all others; admins end a member's sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, select, update
from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity.models import AuthSession, Membership, session_id_for
from pkcrm_app.audit.service import record
from pkcrm_app.core.authz import Actor, Permission
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import NotFound
from pkcrm_app.core.events import SessionsEnded, emit_on_commit

HANDLE_LENGTH = 16  # a prefix of the stored hash: names a session without revealing anything usable


@dataclass(frozen=True)
class DeviceSession:
    handle: str
    browser: str
    operating_system: str
    ip_address: str
    screen: str
    language: str
    created_at: datetime
    last_seen_at: datetime
    current: bool


def _active(actor: Actor, user_id: int | None = None) -> tuple[ColumnElement[bool], ...]:
    now = utcnow()
    return (AuthSession.org_id == actor.org_id, AuthSession.user_id == (user_id or actor.user_id),
            AuthSession.revoked_at.is_(None), AuthSession.expires_at > now)


def my_sessions(db: Session, actor: Actor, current_token: str | None) -> list[DeviceSession]:
    """The actor's live sessions in this organisation, most recently used first."""
    current = session_id_for(current_token)
    rows = db.scalars(select(AuthSession).where(*_active(actor)).order_by(AuthSession.last_seen_at.desc()))
    return [DeviceSession(handle=s.id[:HANDLE_LENGTH], browser=s.browser or "Unknown",
                          operating_system=s.operating_system or "Unknown", ip_address=s.ip_address,
                          screen=s.screen, language=s.language, created_at=s.created_at,
                          last_seen_at=s.last_seen_at, current=s.id == current) for s in rows]


def _end(
    db: Session, actor: Actor, conditions: tuple[ColumnElement[bool], ...], action: str, target_user: int | None
) -> int:
    result = cast(CursorResult[Any], db.execute(update(AuthSession).where(*conditions).values(revoked_at=utcnow())
                                                .execution_options(synchronize_session=False)))
    ended = result.rowcount
    if ended:
        record(db, action=action, org_id=actor.org_id, actor_user_id=actor.user_id, target_type="user",
               target_id=target_user or actor.user_id or "", details={"sessions": ended})
        ended_user = target_user or actor.user_id
        emit_on_commit(db, SessionsEnded(org_id=actor.org_id, user_ids=(ended_user,) if ended_user else ()))
    return int(ended)


def end_session(db: Session, actor: Actor, handle: str) -> None:
    """End one of the actor's own sessions, named by its handle."""
    if len(handle) != HANDLE_LENGTH or not _end(
            db, actor, (*_active(actor), AuthSession.id.startswith(handle)), "session.ended", None):
        raise NotFound("no such session")


def end_other_sessions(db: Session, actor: Actor, current_token: str | None) -> int:
    """Sign the actor out everywhere but here."""
    others = (*_active(actor), AuthSession.id != session_id_for(current_token))
    return _end(db, actor, others, "session.ended_others", None)


def end_member_sessions(db: Session, actor: Actor, user_id: int) -> int:
    """An admin signs a member of the organisation out everywhere."""
    actor.require(Permission.MEMBERS_MANAGE)
    member = db.scalar(select(Membership.id).where(Membership.org_id == actor.org_id, Membership.user_id == user_id))
    if member is None:
        raise NotFound("no such member")
    return _end(db, actor, _active(actor, user_id), "session.ended_by_admin", user_id)
