"""The organisation's members, as admins manage them: who they are, and switching them off and on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity.models import Membership, MfaFactor, User
from pkcrm_app.accounts.identity.sessions import end_member_sessions
from pkcrm_app.audit.service import record
from pkcrm_app.core.authz import Actor, Permission, Role
from pkcrm_app.core.errors import InvalidInput, NotFound


@dataclass(frozen=True)
class Member:
    user_id: int
    name: str
    email: str
    role: Role
    active: bool
    last_login_at: datetime | None
    mfa_enabled: bool


def list_members(db: Session, actor: Actor) -> list[Member]:
    """Everyone in the organisation, with role, last login and whether MFA is on."""
    actor.require(Permission.MEMBERS_MANAGE)
    return [Member(user_id=user.id, name=user.name, email=user.email, role=membership.role,
                   active=membership.is_active, last_login_at=user.last_login_at, mfa_enabled=confirmed is not None)
            for user, membership, confirmed in member_rows(db, actor.org_id)]


def member_rows(db: Session, org_id: int) -> list[tuple[User, Membership, datetime | None]]:
    """(user, membership, when their second factor was confirmed) of everyone in the organisation, by name."""
    rows = db.execute(
        select(User, Membership, MfaFactor.confirmed_at)
        .join(Membership, Membership.user_id == User.id)
        .outerjoin(MfaFactor, MfaFactor.user_id == User.id)
        .where(Membership.org_id == org_id).order_by(User.name)
    ).all()
    return [(user, membership, confirmed) for user, membership, confirmed in rows]


def set_member_active(db: Session, actor: Actor, user_id: int, *, active: bool) -> None:
    """Deactivate (their sessions end at once) or reactivate a member; nobody switches themselves off."""
    actor.require(Permission.MEMBERS_MANAGE)
    membership = db.scalar(select(Membership).where(Membership.org_id == actor.org_id, Membership.user_id == user_id))
    if membership is None:
        raise NotFound("no such member")
    if user_id == actor.user_id:
        raise InvalidInput("you cannot deactivate yourself")
    if membership.role == Role.OWNER and actor.role != Role.OWNER:
        raise InvalidInput("only an owner can deactivate an owner")
    if membership.is_active == active:
        return
    membership.is_active = active
    record(db, action="member.reactivated" if active else "member.deactivated", org_id=actor.org_id,
           actor_user_id=actor.user_id, target_type="user", target_id=user_id)
    if not active:
        end_member_sessions(db, actor, user_id)


def change_role(db: Session, actor: Actor, user_id: int, role: Role) -> None:
    """Give a member another role: a sensitive action (step-up), and their sessions end so the next one
    starts with a new id and the new privileges."""
    actor.require_step_up(Permission.MEMBERS_MANAGE)
    membership = db.scalar(select(Membership).where(Membership.org_id == actor.org_id, Membership.user_id == user_id))
    if membership is None:
        raise NotFound("no such member")
    if user_id == actor.user_id:
        raise InvalidInput("you cannot change your own role")
    if Role.OWNER in (membership.role, role) and actor.role != Role.OWNER:
        raise InvalidInput("only an owner can make or unmake an owner")
    if membership.role == role:
        return
    previous, membership.role = membership.role, role
    record(db, action="member.role_changed", org_id=actor.org_id, actor_user_id=actor.user_id, target_type="user",
           target_id=user_id, details={"from": previous.value, "to": role.value})
    end_member_sessions(db, actor, user_id)
