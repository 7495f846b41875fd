"""A member links their own provider account: the only way single sign-on will ever sign them in.

Linking starts from a signed-in session and asks for the member's password again, so a provider account can
be bound only by someone who holds the password (not by a session cookie alone, nor by a single sign-on
session); the provider then proves the other side, and the callback stores (organisation, member, issuer,
subject). The callback must come back to the very session that started it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity.models import User, session_id_for
from pkcrm_app.accounts.identity.passwords import verify_password
from pkcrm_app.accounts.identity.service import IDLE_TIMEOUT, live_row
from pkcrm_app.accounts.identity.sso import notices, oidc
from pkcrm_app.accounts.identity.sso.attempts import start
from pkcrm_app.accounts.identity.sso.models import LINK, SsoConnection, SsoLink, SsoLoginAttempt
from pkcrm_app.accounts.identity.throttle import assess, remember
from pkcrm_app.audit.service import record
from pkcrm_app.core.authz import Actor, Role
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import AuthenticationFailed, InvalidInput, LoginThrottled, NotFound, recorded

WRONG_PASSWORD = "That password is not right. Type the password you sign in with."


@dataclass(frozen=True)
class LinkView:
    """What a member's profile says about their single sign-on."""

    available: bool  # the organisation has single sign-on switched on
    linked: bool
    issuer: str = ""
    linked_at: datetime | None = None
    is_owner: bool = False
    owner_sign_in: bool = False  # owners only: whether single sign-on may sign them in


def enabled_connection(db: Session, org_id: int) -> SsoConnection | None:
    return db.scalar(select(SsoConnection).where(SsoConnection.org_id == org_id, SsoConnection.enabled.is_(True)))


def own_link(db: Session, actor: Actor) -> SsoLink | None:
    return db.scalar(select(SsoLink).where(SsoLink.org_id == actor.org_id, SsoLink.user_id == actor.user_id))


def my_link(db: Session, actor: Actor) -> LinkView:
    """Whether the signed-in member has linked a provider account (of the organisation's current issuer)."""
    connection = enabled_connection(db, actor.org_id)
    link = own_link(db, actor)
    current = link is not None and connection is not None and link.issuer == connection.issuer
    return LinkView(available=connection is not None, linked=current, issuer=link.issuer if link and current else "",
                    linked_at=link.linked_at if link and current else None, is_owner=actor.role == Role.OWNER,
                    owner_sign_in=bool(link and current and link.owner_sign_in))


def _confirm_password(db: Session, user: User, password: str, actor: Actor, ip: str, device: str) -> None:
    """The password proves the person at the keyboard holds the account; failures count like failed sign-ins."""
    throttle = assess(db, user.email, ip)
    if throttle.locked:
        raise LoginThrottled(delay_seconds=throttle.delay_seconds)
    if verify_password(user.password_hash, password):
        return
    remember(db, user.email, ip, succeeded=False)
    record(db, action="sso.link_refused", org_id=actor.org_id, actor_user_id=user.id, ip_address=ip, device=device,
           details={"reason": "wrong password"})
    raise recorded(AuthenticationFailed(WRONG_PASSWORD, delay_seconds=assess(db, user.email, ip).delay_seconds))


@dataclass(frozen=True)
class LinkTarget:
    """A link the member may start (their password confirmed): the provider's settings, copied out so the
    transaction that read them can end before the provider is asked."""

    user_id: int
    issuer: str
    client_id: str


def prepare_link(
    db: Session, actor: Actor, *, password: str, session_token: str | None, ip: str = "", device: str = "",
) -> LinkTarget:
    """Check that the signed-in member may start linking their provider account (their password again)."""
    user = db.get(User, actor.user_id) if actor.user_id else None
    connection = enabled_connection(db, actor.org_id)
    if user is None or not session_token:
        raise NotFound("sign in first")
    if connection is None:
        raise InvalidInput("single sign-on is not switched on for this organisation")
    _confirm_password(db, user, password, actor, ip, device)
    return LinkTarget(user.id, connection.issuer, connection.client_id)


def start_link(
    db: Session, actor: Actor, target: LinkTarget, provider: oidc.Provider, *, session_token: str,
    redirect_uri: str, ip: str = "", device: str = "",
) -> tuple[str, str]:
    """Record the link's attempt (bound to this session) and audit it: returns (provider URL, state)."""
    if target.user_id != actor.user_id:
        raise NotFound("sign in first")
    url, _attempt, state = start(db, provider, org_id=actor.org_id, client_id=target.client_id,
                                 redirect_uri=redirect_uri, purpose=LINK, user_id=target.user_id,
                                 session_id=session_id_for(session_token))
    record(db, action="sso.link_started", org_id=actor.org_id, actor_user_id=target.user_id, ip_address=ip,
           device=device, details={"issuer": target.issuer})
    return url, state


def complete_link(db: Session, attempt: SsoLoginAttempt, *, issuer: str, claims: dict[str, Any],
                  session_token: str | None, ip: str, device: str) -> notices.Notice:
    """Store the link the provider just proved, for the member and session that started it; returns the
    mail to send the member once committed."""
    live = live_row(db, session_token, IDLE_TIMEOUT) if session_token else None
    if (live is None or session_id_for(session_token) != attempt.session_id or live[0].user_id != attempt.user_id
            or live[0].org_id != attempt.org_id):
        raise oidc.SsoFailed("link finished outside the session that started it", outcome="session")
    user, org = live[1], live[3]
    subject = oidc.subject(claims)
    taken = db.scalar(select(SsoLink.user_id).where(SsoLink.org_id == org.id, SsoLink.issuer == issuer,
                                                    SsoLink.subject == subject))
    if taken is not None and taken != user.id:
        raise oidc.SsoFailed("provider account already linked to another member", outcome="taken")
    link = db.scalar(select(SsoLink).where(SsoLink.org_id == org.id, SsoLink.user_id == user.id))
    if link is None:
        link = SsoLink(org_id=org.id, user_id=user.id, issuer=issuer, subject=subject)
        db.add(link)
    link.issuer, link.subject, link.linked_at, link.last_used_at = issuer, subject, utcnow(), None
    link.owner_sign_in = False  # a new provider account signs an owner in only after a new opt-in
    db.flush()
    email = claims.get("email")
    record(db, action="sso.linked", org_id=org.id, actor_user_id=user.id, target_type="sso_link", target_id=link.id,
           ip_address=ip, device=device,
           details={"issuer": issuer, "subject": subject, "provider_email": email if isinstance(email, str) else ""})
    return notices.to_member(user.email, org.name, issuer)

