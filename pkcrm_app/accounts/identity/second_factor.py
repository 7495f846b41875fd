"""The second factor in the life of a session: asked at login, enrolled when policy demands, and asked
again (step-up) before sensitive actions.

A session opened by a first factor (password or SSO) waits in state "code" or "enrol" until the second
factor passes; only then does it open pages, under a new id (the waiting one is ended).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity import mfa
from pkcrm_app.accounts.identity.models import AuthSession, Membership, Organisation, User
from pkcrm_app.accounts.identity.person import OWN_FACTOR_RECOVERY, require_only_here
from pkcrm_app.accounts.identity.sessions import end_member_sessions
from pkcrm_app.audit.service import record
from pkcrm_app.core.authz import Actor, Permission, Role
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import AuthenticationFailed, InvalidInput, NotFound, recorded

STEP_UP_WINDOW = timedelta(minutes=5)
PENDING_LOGIN_LIFETIME = timedelta(minutes=10)


class MfaPolicy(enum.StrEnum):
    OFF = "off"
    ADMINS = "admins"  # owners and admins
    EVERYONE = "everyone"


class MfaState(enum.StrEnum):
    NONE = "none"  # no second factor involved
    CODE = "code"  # waiting for a code from the enrolled app
    ENROL = "enrol"  # waiting for enrolment the organisation's policy requires
    DONE = "done"  # passed

    @property
    def next_url(self) -> str:
        return {MfaState.CODE: "/login/verify", MfaState.ENROL: "/mfa/setup"}.get(self, "/board")


OPEN_STATES = (MfaState.NONE.value, MfaState.DONE.value)
WAITING_STATES = (MfaState.CODE.value, MfaState.ENROL.value)


def policy_requires(policy: str, role: Role) -> bool:
    """Whether the organisation's MFA policy requires a second factor of this role."""
    return policy == MfaPolicy.EVERYONE or (policy == MfaPolicy.ADMINS and role in (Role.OWNER, Role.ADMIN))


def state_after_first_factor(db: Session, user: User, membership: Membership) -> MfaState:
    """What a new session waits for: a code when the user has a factor, enrolment when policy demands one."""
    if mfa.has_confirmed_factor(db, user.id):
        return MfaState.CODE
    policy = db.scalar(select(Organisation.mfa_policy).where(Organisation.id == membership.org_id))
    return MfaState.ENROL if policy_requires(policy or "", membership.role) else MfaState.NONE


def is_stepped_up(session: AuthSession) -> bool:
    """A second factor passed on this session within the step-up window."""
    verified = session.mfa_verified_at
    return verified is not None and utcnow() - verified <= STEP_UP_WINDOW


@dataclass(frozen=True)
class WaitingLogin:
    """A session between its first and second factor."""

    session: AuthSession
    user: User
    state: MfaState


def waiting_login(db: Session, session_id: str) -> WaitingLogin | None:
    """The login behind a session id that still waits for its second factor (for at most ten minutes)."""
    row = db.execute(
        select(AuthSession, User).join(User, User.id == AuthSession.user_id).where(AuthSession.id == session_id)
    ).first()
    if row is None:
        return None
    session, user = row
    now = utcnow()
    if (session.mfa_state not in WAITING_STATES or session.revoked_at is not None or not user.is_active
            or now - session.created_at > PENDING_LOGIN_LIFETIME or session.expires_at <= now):
        return None
    return WaitingLogin(session=session, user=user, state=MfaState(session.mfa_state))


class SecondFactorLocked(AuthenticationFailed):
    """Too many wrong codes for this person (over all their sign-ins and step-ups): the factor is locked."""


def check_code(db: Session, session: AuthSession, code: str) -> None:
    """Verify a TOTP or recovery code for this session's user. Wrong codes count for the person, not the
    session (mfa.check_code); once their factor locks, this session ends too and a new sign-in must wait.
    A wrong code is a recorded refusal (core/errors.py): the caller commits the count."""
    outcome = mfa.check_code(db, session.user_id, code, org_id=session.org_id)
    if outcome.accepted:
        session.mfa_failures = 0
        session.mfa_verified_at = utcnow()
        return
    session.mfa_failures += 1
    if outcome.locked_until is not None:
        session.revoked_at = utcnow()
        record(db, action="mfa.locked_out", org_id=session.org_id, actor_user_id=session.user_id,
               ip_address=session.ip_address, device=session.user_agent)
        minutes = max(1, -(-int((outcome.locked_until - utcnow()).total_seconds()) // 60))
        raise recorded(SecondFactorLocked(f"Too many wrong codes. Two-factor sign-in to this account is locked for "
                                 f"{minutes} more minute{'s' if minutes != 1 else ''}; the account's owner was "
                                 "emailed about it."))
    raise recorded(InvalidInput("That code is not right. Check your authenticator app and try again."))


def turn_off_own_factor(db: Session, actor: Actor) -> None:
    """Remove one's own second factor (step-up), unless the organisation requires it of one's role."""
    actor.require_step_up(Permission.BOARD_VIEW)
    policy = db.scalar(select(Organisation.mfa_policy).where(Organisation.id == actor.org_id))
    if policy_requires(policy or "", actor.role):
        raise InvalidInput("your organisation requires two-factor authentication for your role")
    if actor.user_id is None or not mfa.reset_factor(db, actor.user_id, actor_user_id=actor.user_id, how="self"):
        raise InvalidInput("two-factor authentication is not on")


def new_recovery_codes(db: Session, actor: Actor) -> list[str]:
    """Replace one's recovery codes (step-up); the new ones are shown once."""
    actor.require_step_up(Permission.BOARD_VIEW)
    if actor.user_id is None or not mfa.has_confirmed_factor(db, actor.user_id):
        raise InvalidInput("two-factor authentication is not on")
    return mfa.regenerate_recovery_codes(db, actor.user_id, org_id=actor.org_id)


def reset_member_factor(db: Session, actor: Actor, user_id: int) -> None:
    """An admin removes a member's second factor (lost phone; step-up); the member's sessions end and,
    where policy requires it, they enrol again at next login. Only for a person who belongs to no other
    organisation: the factor is the person's, and the other organisations rely on it too (person.py)."""
    actor.require_step_up(Permission.MEMBERS_MANAGE)
    member = db.scalar(select(Membership).where(Membership.org_id == actor.org_id, Membership.user_id == user_id))
    if member is None:
        raise NotFound("no such member")
    if member.role == Role.OWNER and actor.role != Role.OWNER:
        raise InvalidInput("only an owner can reset an owner's two-factor authentication")
    require_only_here(db, user_id, org_id=actor.org_id, what="reset their two-factor authentication",
                      own_way=OWN_FACTOR_RECOVERY)
    if not mfa.reset_factor(db, user_id, actor_user_id=actor.user_id, how="admin"):
        raise InvalidInput("this member has no two-factor authentication to reset")
    end_member_sessions(db, actor, user_id)


@dataclass(frozen=True)
class OwnFactorStatus:
    enabled: bool
    recovery_codes_left: int
    required: bool  # the organisation's policy covers this user's role


def own_status(db: Session, actor: Actor) -> OwnFactorStatus:
    """Where the actor's own second factor stands, for their account page."""
    policy = db.scalar(select(Organisation.mfa_policy).where(Organisation.id == actor.org_id)) or ""
    user_id = actor.user_id or 0
    return OwnFactorStatus(enabled=mfa.has_confirmed_factor(db, user_id),
                           recovery_codes_left=mfa.recovery_codes_left(db, user_id),
                           required=policy_requires(policy, actor.role))
