"""Invitations: admins invite people by email with a role; a single-use link valid for 7 days lets them in.

The admin's answer is the same whether or not the email already has an account; the invitee with an
account proves it with their password, a new invitee chooses a name and password."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity.models import Membership, Organisation, User
from pkcrm_app.accounts.identity.passwords import verify_password
from pkcrm_app.accounts.identity.service import add_member, create_user
from pkcrm_app.accounts.identity.throttle import assess, remember
from pkcrm_app.accounts.identity.tokens import new_token, require_confirmed, token_hash
from pkcrm_app.accounts.organisations.onboarding_models import Invitation
from pkcrm_app.accounts.organisations.signup import required_text, valid_email
from pkcrm_app.audit.service import record
from pkcrm_app.core.authz import Actor, Permission, Role
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import InvalidInput, NotFound, PermissionDenied, recorded
from pkcrm_app.core.mail import link, send_mail

INVITE_TTL = timedelta(days=7)
INVALID_LINK = "This invitation link is invalid, expired, revoked or already used. Ask for a new invitation."


@dataclass(frozen=True)
class PendingInvitation:
    id: int
    email: str
    role: Role
    invited_by: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class InvitationView:
    """What the invitee's page shows before they accept."""

    org_name: str
    email: str
    role: Role
    existing_account: bool


@dataclass(frozen=True)
class Joined:
    user: User
    membership: Membership


def _pending(org_id: int | None = None) -> tuple[ColumnElement[bool], ...]:
    now = utcnow()
    scope = () if org_id is None else (Invitation.org_id == org_id,)
    return (*scope, Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None), Invitation.expires_at > now)


def _check_role(actor: Actor, role: Role) -> None:
    actor.require(Permission.MEMBERS_MANAGE)
    if role == Role.OWNER and actor.role != Role.OWNER:
        raise PermissionDenied("only an owner can invite an owner")


def _mail(db: Session, actor: Actor, invitation: Invitation, token: str) -> None:
    org = db.get(Organisation, invitation.org_id)
    inviter = db.get(User, actor.user_id) if actor.user_id else None
    org_name = org.name if org else "an organisation"
    send_mail(invitation.email, f"You are invited to {org_name} on PK WhatsApp CRM", (
        f"{inviter.name if inviter else 'An administrator'} invited you to join \"{org_name}\" on PK WhatsApp CRM "
        f"as {invitation.role.value}.\n\nAccept the invitation:\n\n{link('/auth/invite/' + token)}\n\n"
        "The link works once, within 7 days. If you did not expect this invitation, ignore this email."))


def invite(db: Session, actor: Actor, email: str, role: Role, *, ip: str = "") -> int:
    """Invite an email address with a role; replaces that address's earlier pending invitation."""
    _check_role(actor, role)
    email = valid_email(email)
    member = db.scalar(select(Membership.id).join(User, User.id == Membership.user_id)
                       .where(Membership.org_id == actor.org_id, User.email == email))
    if member is not None:
        raise InvalidInput("This person is already a member of the organisation.")
    for earlier in db.scalars(select(Invitation).where(*_pending(actor.org_id), Invitation.email == email)):
        earlier.revoked_at = utcnow()
    token, digest = new_token()
    invitation = Invitation(org_id=actor.org_id, email=email, role=role, token_hash=digest, invited_by=actor.user_id,
                            expires_at=utcnow() + INVITE_TTL)
    db.add(invitation)
    db.flush()
    _mail(db, actor, invitation, token)
    record(db, action="member.invited", org_id=actor.org_id, actor_user_id=actor.user_id, target_type="invitation",
           target_id=invitation.id, details={"email": email, "role": role.value}, ip_address=ip)
    return invitation.id


def list_pending(db: Session, actor: Actor) -> list[PendingInvitation]:
    """The organisation's invitations not yet accepted, revoked or expired, newest first."""
    actor.require(Permission.MEMBERS_MANAGE)
    rows = db.execute(select(Invitation, User.name).outerjoin(User, User.id == Invitation.invited_by)
                      .where(*_pending(actor.org_id)).order_by(Invitation.created_at.desc(), Invitation.id.desc()))
    return [PendingInvitation(id=inv.id, email=inv.email, role=inv.role, invited_by=name or "",
                              created_at=inv.created_at, expires_at=inv.expires_at) for inv, name in rows]


def _find_pending(db: Session, actor: Actor, invitation_id: int) -> Invitation:
    invitation = db.scalar(select(Invitation).where(*_pending(actor.org_id), Invitation.id == invitation_id))
    if invitation is None:
        raise NotFound("no such pending invitation")
    _check_role(actor, invitation.role)
    return invitation


def revoke(db: Session, actor: Actor, invitation_id: int) -> None:
    """Withdraw a pending invitation: its link stops working at once."""
    actor.require(Permission.MEMBERS_MANAGE)
    invitation = _find_pending(db, actor, invitation_id)
    invitation.revoked_at = utcnow()
    record(db, action="member.invite_revoked", org_id=actor.org_id, actor_user_id=actor.user_id,
           target_type="invitation", target_id=invitation.id, details={"email": invitation.email})


def resend(db: Session, actor: Actor, invitation_id: int) -> None:
    """Mail a pending invitation again with a new link (the old one stops working) and a new 7 days."""
    actor.require(Permission.MEMBERS_MANAGE)
    invitation = _find_pending(db, actor, invitation_id)
    token, invitation.token_hash = new_token()
    invitation.expires_at = utcnow() + INVITE_TTL
    db.flush()
    _mail(db, actor, invitation, token)
    record(db, action="member.invite_resent", org_id=actor.org_id, actor_user_id=actor.user_id,
           target_type="invitation", target_id=invitation.id, details={"email": invitation.email})


def _by_token(db: Session, token: str | None) -> Invitation:
    invitation = db.scalar(select(Invitation).where(*_pending(), Invitation.token_hash == token_hash(token))) \
        if token else None
    if invitation is None:
        raise InvalidInput(INVALID_LINK)
    return invitation


def describe(db: Session, token: str | None) -> InvitationView:
    """The organisation, email and role behind a valid link (for the invitee's page)."""
    invitation = _by_token(db, token)
    org = db.get(Organisation, invitation.org_id)
    existing = db.scalar(select(User.id).where(User.email == invitation.email)) is not None
    return InvitationView(org_name=org.name if org else "", email=invitation.email, role=invitation.role,
                          existing_account=existing)


def accept(db: Session, token: str | None, *, name: str, password: str, confirmed_email: str = "", ip: str = "",
           device: str = "") -> Joined:
    """Join the organisation: a new user with this name and password, or an existing one who proves theirs.

    An admin asked for the link, not this browser, so the person always confirms the invited email first
    (`confirmed_email`): a forwarded invitation must not quietly make its reader the invitee."""
    invitation = _by_token(db, token)
    require_confirmed(invitation.email, confirmed_email=confirmed_email, bound=False)
    user = db.scalar(select(User).where(User.email == invitation.email))
    if user is None:
        user = create_user(db, email=invitation.email, name=required_text(name, "your name"), password=password)
    else:
        if assess(db, user.email, ip).locked:
            raise InvalidInput("Too many failed attempts. Try again in 15 minutes.")
        if not verify_password(user.password_hash, password) or not user.is_active:
            remember(db, user.email, ip, succeeded=False)  # counted although the join fails (a recorded refusal)
            raise recorded(InvalidInput("The password is not the one of your existing account."))
        if db.scalar(select(Membership.id).where(Membership.org_id == invitation.org_id,
                                                 Membership.user_id == user.id)) is not None:
            raise InvalidInput("You are already a member of this organisation.")
    membership = add_member(db, org_id=invitation.org_id, user_id=user.id, role=invitation.role)
    invitation.accepted_at = utcnow()
    record(db, action="member.joined", org_id=invitation.org_id, actor_user_id=user.id, target_type="invitation",
           target_id=invitation.id, details={"role": invitation.role.value}, ip_address=ip, device=device)
    return Joined(user=user, membership=membership)
