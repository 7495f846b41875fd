"""What the second-factor pages and routes do with a cookie secret: finish a login with a code, enrol
(when policy demands it or by choice), and step up before a sensitive action."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity import known_devices, mfa
from pkcrm_app.accounts.identity.models import AuthSession, User, session_id_for
from pkcrm_app.accounts.identity.second_factor import MfaState, check_code, waiting_login
from pkcrm_app.accounts.identity.service import IDLE_TIMEOUT, OpenedSession, live_row, new_session_row
from pkcrm_app.audit.service import record
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import AuthenticationFailed

EXPIRED = "Your sign-in has expired. Sign in again."


def waiting_for(db: Session, token: str | None) -> MfaState | None:
    """What the login behind this cookie still waits for ("code" or "enrol"), or None."""
    waiting = waiting_login(db, session_id_for(token))
    return waiting.state if waiting else None


def finish_with_code(db: Session, token: str | None, code: str) -> OpenedSession:
    """Second step of a login: a right code opens the session under a new id; wrong codes are counted."""
    waiting = waiting_login(db, session_id_for(token))
    if waiting is None or waiting.state != MfaState.CODE:
        raise AuthenticationFailed(EXPIRED)
    check_code(db, waiting.session, code)
    return _promote(db, waiting.session, waiting.user)


def step_up(db: Session, token: str | None, code: str) -> None:
    """Confirm a signed-in session with a fresh code, opening the step-up window for sensitive actions."""
    live = live_row(db, token, IDLE_TIMEOUT)
    if live is None:
        raise AuthenticationFailed(EXPIRED)
    session = live[0]
    check_code(db, session, code)
    record(db, action="mfa.step_up", org_id=session.org_id, actor_user_id=session.user_id,
           ip_address=session.ip_address, device=session.user_agent)


@dataclass(frozen=True)
class Enroller:
    """Whoever may enrol through this cookie: a login waiting for enrolment, or a signed-in user."""

    session: AuthSession
    user: User
    waiting: bool


def enroller(db: Session, token: str | None) -> Enroller | None:
    waiting = waiting_login(db, session_id_for(token))
    if waiting is not None:
        return Enroller(waiting.session, waiting.user, True) if waiting.state == MfaState.ENROL else None
    live = live_row(db, token, IDLE_TIMEOUT)
    return None if live is None else Enroller(live[0], live[1], False)


def begin_enrolment(db: Session, token: str | None) -> mfa.Enrolment:
    """A fresh secret and QR code for the user behind the cookie (replacing an abandoned one)."""
    who = enroller(db, token)
    if who is None:
        raise AuthenticationFailed(EXPIRED)
    enrolment = mfa.begin_enrolment(db, who.user.id)
    return enrolment


def confirm_enrolment(db: Session, token: str | None, code: str) -> tuple[list[str], OpenedSession | None]:
    """Switch the factor on with its first code; returns the recovery codes (shown once) and, for a login
    that waited for enrolment, the session that now opens under a new id."""
    who = enroller(db, token)
    if who is None:
        raise AuthenticationFailed(EXPIRED)
    codes = mfa.confirm_enrolment(db, who.user.id, code, org_id=who.session.org_id)
    if who.waiting:
        return codes, _promote(db, who.session, who.user)
    who.session.mfa_state, who.session.mfa_verified_at = MfaState.DONE.value, utcnow()
    return codes, None


def _promote(db: Session, waiting: AuthSession, user: User) -> OpenedSession:
    """End the waiting session and open the real one under a new secret (the id rotates as privileges grow)."""
    hours = max(1, round((waiting.expires_at - waiting.created_at).total_seconds() / 3600))
    token, session = new_session_row(
        user_id=user.id, org_id=waiting.org_id, hours=hours, ip=waiting.ip_address, user_agent=waiting.user_agent,
        screen=waiting.screen, language=waiting.language, mfa_state=MfaState.DONE,
    )
    waiting.revoked_at = session.created_at
    db.add(session)
    user.last_login_at = session.created_at
    record(db, action="login.succeeded", org_id=waiting.org_id, actor_user_id=user.id,
           ip_address=waiting.ip_address, device=waiting.user_agent, details={"second_factor": "totp"})
    return OpenedSession(token=token, next_url=MfaState.DONE.next_url, device_token=known_devices.issue(db, user))
