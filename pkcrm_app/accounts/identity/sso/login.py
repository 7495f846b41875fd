"""Signing in through an organisation's OpenID provider: start (state, nonce, PKCE) and finish (checks, match).

A sign-in matches only a provider account a member linked to themselves (issuer + subject), never an email;
an owner is signed in only after opting in; the member must be active. The callback also finishes links
(see links.py). Each step here is one transaction; flows/sso.py runs them and asks the provider between
them, with no transaction open (discovery and keys come from the cache in directory.py). Every refusal is
audited with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity.models import Membership, Organisation, User
from pkcrm_app.accounts.identity.service import OpenedSession, open_session
from pkcrm_app.accounts.identity.sso import directory, links, notices, oidc
from pkcrm_app.accounts.identity.sso.attempts import ATTEMPT_LIFETIME, start, state_id
from pkcrm_app.accounts.identity.sso.fetch import ProviderUnreachable, logged
from pkcrm_app.accounts.identity.sso.models import LINK, LOGIN, SsoLink, SsoLoginAttempt
from pkcrm_app.audit.service import record
from pkcrm_app.core.after_commit import after_commit
from pkcrm_app.core.authz import Role
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import InvalidInput

__all__ = ["ATTEMPT_LIFETIME", "Client", "Finished", "LoginTarget", "SsoFailed", "claims_of", "client_of",
           "complete", "login_target", "record_refusal", "start_login", "state_id"]
SsoFailed = oidc.SsoFailed
LINKED_URL = "/profile?sso=linked"


@dataclass(frozen=True)
class Finished:
    """A callback that went through: a sign-in (`opened`) or a link; `next_url` is where the browser goes."""

    next_url: str
    opened: OpenedSession | None = None


@dataclass(frozen=True)
class Client:
    """The connection's settings, copied out so the transaction that read them can end."""

    issuer: str
    client_id: str
    client_secret: str


def provider_of(issuer: str) -> oidc.Provider:
    """The checked provider (cached); a failure becomes a refusal whose audited reason holds no network detail."""
    try:
        return directory.providers.provider(issuer)
    except ProviderUnreachable as exc:
        raise SsoFailed("provider unreachable") from logged(exc, f"discovery of {issuer}")
    except InvalidInput as exc:
        raise SsoFailed(f"discovery refused: {exc}") from exc


@dataclass(frozen=True)
class LoginTarget:
    """The organisation a sign-in starts for and its provider's settings, copied out so the transaction that
    read them can end before the provider is asked."""

    org_id: int
    issuer: str
    client_id: str


def login_target(db: Session, *, org_slug: str) -> LoginTarget:
    """Whom a sign-in for this organisation asks; SsoFailed when it has no single sign-on switched on."""
    org = db.scalar(select(Organisation).where(Organisation.slug == org_slug.strip().lower()))
    connection = links.enabled_connection(db, org.id) if org is not None else None
    if org is None or connection is None:
        raise SsoFailed("single sign-on is not enabled for this organisation")
    return LoginTarget(org.id, connection.issuer, connection.client_id)


def start_login(db: Session, target: LoginTarget, provider: oidc.Provider, *, redirect_uri: str) -> tuple[str, str]:
    """Record the sign-in's attempt: returns (provider URL to send the browser to, state)."""
    url, _attempt, state = start(db, provider, org_id=target.org_id, client_id=target.client_id,
                                 redirect_uri=redirect_uri, purpose=LOGIN)
    return url, state


def client_of(db: Session, org_id: int) -> Client:
    """The connection's settings a code exchange needs; SsoFailed when single sign-on was switched off."""
    connection = links.enabled_connection(db, org_id)
    if connection is None or not connection.client_secret:
        raise SsoFailed("single sign-on is not enabled for this organisation")
    return Client(connection.issuer, connection.client_id, connection.client_secret)


def claims_of(client: Client, attempt: SsoLoginAttempt, code: str) -> dict[str, Any]:
    """Exchange the code and check the ID token (network only: no transaction is open here)."""
    provider = provider_of(client.issuer)
    id_token = oidc.exchange_code(provider, client_id=client.client_id, client_secret=client.client_secret,
                                  redirect_uri=attempt.redirect_uri, code=code, code_verifier=attempt.code_verifier)
    keys = directory.providers.keys(provider, kid=oidc.key_id(id_token))
    return oidc.verify_id_token(id_token, keys, issuer=provider.issuer, client_id=client.client_id,
                                nonce=attempt.nonce)


def _linked_member(db: Session, org_id: int, issuer: str, subject: str) -> tuple[User, Membership]:
    row = db.execute(
        select(SsoLink, User, Membership).join(User, User.id == SsoLink.user_id)
        .join(Membership, (Membership.user_id == User.id) & (Membership.org_id == SsoLink.org_id))
        .where(SsoLink.org_id == org_id, SsoLink.issuer == issuer, SsoLink.subject == subject)
    ).first()
    if row is None:
        raise SsoFailed("provider account not linked to a member", outcome="sso-unlinked")
    link, user, membership = row
    if not user.is_active or not membership.is_active:
        raise SsoFailed("member is deactivated")
    if membership.role == Role.OWNER and not link.owner_sign_in:
        raise SsoFailed("owner has not opted in to single sign-on", outcome="sso-owner")
    link.last_used_at = utcnow()
    return user, membership


def complete(
    db: Session, attempt: SsoLoginAttempt, client: Client, claims: dict[str, Any], *, ip: str, user_agent: str,
    hours: int, session_token: str | None = None,
) -> Finished:
    """What a proven callback does: finish a link (its mail leaves after the caller's commit) or sign the linked
    member in. `session_token` is the browser's session cookie (a link must come back to the session that
    started it)."""
    if attempt.purpose == LINK:
        mail = links.complete_link(db, attempt, issuer=client.issuer, claims=claims, session_token=session_token,
                                   ip=ip, device=user_agent)
        after_commit(db, lambda: notices.deliver([mail]))
        return Finished(next_url=LINKED_URL)
    user, membership = _linked_member(db, attempt.org_id, client.issuer, oidc.subject(claims))
    opened = open_session(db, user=user, membership=membership, ip=ip, user_agent=user_agent, hours=hours,
                          method="sso")
    return Finished(next_url=opened.next_url, opened=opened)


def record_refusal(db: Session, failure: SsoFailed, attempt: SsoLoginAttempt | None, *, ip: str,
                   user_agent: str) -> None:
    """Audit a refused callback with its reason (in a transaction of its own: what the callback wrote is gone);
    a link's refusal is shown on the profile page, so its outcome says so."""
    linking = attempt is not None and attempt.purpose == LINK
    record(db, action="sso.link_failed" if linking else "login.failed", org_id=attempt.org_id if attempt else None,
           actor_user_id=attempt.user_id if attempt is not None and linking else None,
           details={"method": "sso", "reason": failure.reason}, ip_address=ip, device=user_agent)
    if linking:
        failure.outcome = "link-" + ("failed" if failure.outcome == "sso" else failure.outcome)
