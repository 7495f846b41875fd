"""What people do with accounts: organisations, members, login and logout."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVarTuple

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity import known_devices
from pkcrm_app.accounts.identity.devices import describe_user_agent
from pkcrm_app.accounts.identity.models import AuthSession, Membership, Organisation, User, session_id_for
from pkcrm_app.accounts.identity.passwords import hash_password, verify_password
from pkcrm_app.accounts.identity.second_factor import OPEN_STATES, MfaState, is_stepped_up, state_after_first_factor
from pkcrm_app.accounts.identity.throttle import assess, check_password_strength, email_key, remember
from pkcrm_app.accounts.security.alerts import note_failed_login, note_sign_in
from pkcrm_app.audit.service import record
from pkcrm_app.core.authz import Actor, Role
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import AuthenticationFailed, InvalidInput, LoginThrottled, recorded
from pkcrm_app.core.events import SessionsEnded, emit_on_commit

Ts = TypeVarTuple("Ts")
SESSION_TOUCH_INTERVAL = timedelta(minutes=1)
IDLE_TIMEOUT = timedelta(hours=2)


@dataclass(frozen=True)
class SessionInfo:
    """What a page needs to know about the signed-in user."""

    actor: Actor
    user_name: str
    email: str
    org_name: str
    time_zone: str = "UTC"  # the user's own, else the organisation's: every time on screen is shown in it


@dataclass(frozen=True)
class OpenedSession:
    """A new session: the secret for the HttpOnly cookie and the page the browser goes to next."""

    token: str
    next_url: str
    # Set when every factor passed: the browser keeps it as a known device of the person (known_devices.py).
    device_token: str = field(default="", repr=False)


def create_organisation(db: Session, *, name: str, slug: str) -> Organisation:
    org = Organisation(name=name, slug=slug)
    db.add(org)
    db.flush()
    return org


def create_user(db: Session, *, email: str, name: str, password: str) -> User:
    email = email.strip().lower()
    if "@" not in email:
        raise InvalidInput("a valid email address is required")
    if db.scalar(select(User.id).where(User.email == email)) is not None:
        raise InvalidInput("a user with this email already exists")
    check_password_strength(password, email)
    user = User(email=email, name=name, password_hash=hash_password(password))
    db.add(user)
    db.flush()
    return user


def add_member(db: Session, *, org_id: int, user_id: int, role: Role) -> Membership:
    membership = Membership(org_id=org_id, user_id=user_id, role=role)
    db.add(membership)
    db.flush()
    return membership


def login(
    db: Session, *, email: str, password: str, ip: str, user_agent: str, hours: int, screen: str = "",
    language: str = "", device_cookie: str | None = None,
) -> OpenedSession:
    """Check the credentials and open a session with its device details (see `open_session`).

    `device_cookie` is the browser's known-device cookie: a valid token of this email's owner lets the attempt
    be judged by that browser's own failures, past a lockout strangers caused (throttle.py). A refusal is
    recorded (core/errors.py): the caller commits the counted failure."""
    email = email.strip().lower()
    user = db.scalar(select(User).where(User.email == email))
    device = known_devices.recognise(db, device_cookie, user)
    throttle = assess(db, email, ip, device=device)
    if throttle.locked:
        record(db, action="login.locked", org_id=None, details={"email_hash": email_key(email),
                                                                 "known_device": "yes" if device else "no"},
               ip_address=ip, device=user_agent)
        raise recorded(LoginThrottled(delay_seconds=throttle.delay_seconds))
    ok = verify_password(user.password_hash if user else None, password)
    membership = None
    if user is not None and ok and user.is_active:
        membership = db.scalar(
            select(Membership).where(Membership.user_id == user.id, Membership.is_active.is_(True))
            .order_by(Membership.id).limit(1)
        )
    if user is None or membership is None:
        record(db, action="login.failed", org_id=None, actor_user_id=user.id if user else None,
               details={"reason": "bad credentials or inactive"}, ip_address=ip, device=user_agent)
        remember(db, email, ip, succeeded=False, device=device)
        if user is not None:
            _alert_on_failure_burst(db, user.id)
        raise recorded(AuthenticationFailed(delay_seconds=assess(db, email, ip, device=device).delay_seconds))
    remember(db, email, ip, succeeded=True, device=device)
    opened = open_session(db, user=user, membership=membership, ip=ip, user_agent=user_agent, hours=hours,
                          screen=screen, language=language, method="password")
    return opened


def _alert_on_failure_burst(db: Session, user_id: int) -> None:
    """Tell the admins of each organisation the user belongs to about a burst of failed sign-ins."""
    for org_id in db.scalars(select(Membership.org_id).where(Membership.user_id == user_id,
                                                             Membership.is_active.is_(True))):
        note_failed_login(db, user_id=user_id, org_id=org_id)


def open_session(
    db: Session, *, user: User, membership: Membership, ip: str, user_agent: str, hours: int, screen: str = "",
    language: str = "", method: str,
) -> OpenedSession:
    """Start a session for a user whose first factor (password or single sign-on) just passed.

    Every call makes a new random secret, so a session id planted before login is never reused. The
    caller commits, sets the cookie and sends the browser to `next_url`."""
    state = state_after_first_factor(db, user, membership)
    token, session = new_session_row(
        user_id=user.id, org_id=membership.org_id, hours=hours, ip=ip, user_agent=user_agent, screen=screen,
        language=language, mfa_state=state,
    )
    db.add(session)
    note_sign_in(db, user_id=user.id, org_id=membership.org_id, session_id=session.id, browser=session.browser,
                 operating_system=session.operating_system, ip=ip)
    if state in (MfaState.CODE, MfaState.ENROL):
        record(db, action="login.first_factor", org_id=membership.org_id, actor_user_id=user.id, ip_address=ip,
               device=user_agent, details={"method": method, "waiting_for": state.value})
    else:
        user.last_login_at = session.created_at
        record(db, action="login.succeeded", org_id=membership.org_id, actor_user_id=user.id, ip_address=ip,
               device=user_agent, details={"method": method})
        return OpenedSession(token=token, next_url=state.next_url, device_token=known_devices.issue(db, user))
    return OpenedSession(token=token, next_url=state.next_url)


def new_session_row(
    *, user_id: int, org_id: int, hours: int, ip: str, user_agent: str, screen: str, language: str,
    mfa_state: MfaState,
) -> tuple[str, AuthSession]:
    """A fresh random cookie secret and the session row stored under its hash."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    browser, operating_system = describe_user_agent(user_agent)
    return token, AuthSession(
        id=session_id_for(token), user_id=user_id, org_id=org_id, created_at=now, last_seen_at=now,
        expires_at=now + timedelta(hours=hours), ip_address=ip, user_agent=user_agent[:400], browser=browser,
        operating_system=operating_system, screen=screen[:20], language=language[:35], mfa_state=mfa_state.value,
        mfa_verified_at=now if mfa_state == MfaState.DONE else None,
    )


def session_is_live(db: Session, token: str | None, *, idle: timedelta = IDLE_TIMEOUT) -> bool:
    """Whether the cookie secret still opens a session (read-only: it does not count as activity)."""
    return live_row(db, token, idle) is not None


def _live_clauses(now: datetime, idle: timedelta) -> tuple[ColumnElement[bool], ...]:
    """What keeps a session open: not revoked, not expired, not idle too long, past its second factor, and
    an active user with an active membership of an existing organisation (joined by the callers)."""
    return (AuthSession.revoked_at.is_(None), AuthSession.expires_at > now, AuthSession.last_seen_at >= now - idle,
            AuthSession.mfa_state.in_(OPEN_STATES), User.is_active.is_(True), Membership.is_active.is_(True))


def _with_people(query: Select[*Ts]) -> Select[*Ts]:
    return (query.join(User, User.id == AuthSession.user_id)
            .join(Membership, (Membership.user_id == User.id) & (Membership.org_id == AuthSession.org_id))
            .join(Organisation, Organisation.id == AuthSession.org_id))


def live_row(db: Session, token: str | None, idle: timedelta) -> tuple[AuthSession, User, Membership,
                                                                         Organisation] | None:
    if not token:
        return None
    row = db.execute(
        _with_people(select(AuthSession, User, Membership, Organisation))
        .where(AuthSession.id == session_id_for(token), *_live_clauses(utcnow(), idle))
    ).first()
    return None if row is None else (row[0], row[1], row[2], row[3])


def live_session_ids(db: Session, session_ids: set[str], *, idle: timedelta = IDLE_TIMEOUT) -> set[str]:
    """Which of these stored session ids still open a session (one query)."""
    if not session_ids:
        return set()
    query = _with_people(select(AuthSession.id)).where(AuthSession.id.in_(session_ids), *_live_clauses(utcnow(), idle))
    return set(db.scalars(query))


def session_deadline(db: Session, session_id: str, *, idle: timedelta = IDLE_TIMEOUT) -> datetime | None:
    """When a live session would end by itself (absolute or idle time-out), or None when it is not live."""
    query = (_with_people(select(AuthSession.expires_at, AuthSession.last_seen_at))
             .where(AuthSession.id == session_id, *_live_clauses(utcnow(), idle)))
    row = db.execute(query).first()
    return None if row is None else min(row[0], row[1] + idle)


def resolve_session(db: Session, token: str | None, *, idle: timedelta = IDLE_TIMEOUT) -> SessionInfo | None:
    """The signed-in user behind a cookie secret, or None when it is unknown, ended, expired or idle too long.

    Counts as activity: it moves the session's last-seen time (at most once a minute; the caller commits)."""
    live = live_row(db, token, idle)
    if live is None:
        return None
    session, user, membership, org = live
    now = utcnow()
    if now - session.last_seen_at > SESSION_TOUCH_INTERVAL:
        session.last_seen_at = now
    return SessionInfo(
        actor=Actor(user_id=user.id, org_id=org.id, role=membership.role, stepped_up=is_stepped_up(session)),
        user_name=user.name, email=user.email, org_name=org.name, time_zone=user.time_zone or org.time_zone or "UTC",
    )


def logout(db: Session, token: str | None, *, ip: str = "") -> None:
    """End the session behind the cookie secret (no-op when it is already gone)."""
    if not token:
        return
    session = db.get(AuthSession, session_id_for(token))
    if session is None or session.revoked_at is not None:
        return
    session.revoked_at = utcnow()
    record(db, action="logout", org_id=session.org_id, actor_user_id=session.user_id, ip_address=ip)
    emit_on_commit(db, SessionsEnded(org_id=session.org_id, user_ids=(session.user_id,)))
