"""Signing in through an organisation's OpenID provider: start (state, nonce, PKCE) and finish (checks, match).

A sign-in matches only a provider account a member linked to themselves (issuer + subject), never an email;
an owner is signed in only after opting in; the member must be active. The callback also finishes links
(see links.py). No database transaction is open while the provider is asked (discovery and keys come from
the cache in directory.py, the code exchange happens between two transactions). Every refusal is audited
with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity.models import Membership, Organisation, User
from pkcrm_app.accounts.identity.service import OpenedSession, open_session
from pkcrm_app.accounts.identity.sso import directory, links, notices, oidc
from pkcrm_app.accounts.identity.sso.attempts import ATTEMPT_LIFETIME, consume, new_attempt, state_id
from pkcrm_app.accounts.identity.sso.fetch import ProviderUnreachable, logged
from pkcrm_app.accounts.identity.sso.models import LINK, LOGIN, SsoLink, SsoLoginAttempt
from pkcrm_app.audit.service import record
from pkcrm_app.core.authz import Role
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import InvalidInput

__all__ = ["ATTEMPT_LIFETIME", "Finished", "SsoFailed", "begin_login", "finish_login", "state_id"]
SsoFailed = oidc.SsoFailed
LINKED_URL = "/profile?sso=linked"


@dataclass(frozen=True)
class Finished:
    """A callback that went through: a sign-in (`opened`) or a link; `next_url` is where the browser goes."""

    next_url: str
    opened: OpenedSession | None = None


@dataclass(frozen=True)
class _Client:
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


def begin_login(db: Session, *, org_slug: str, redirect_uri: str) -> tuple[str, str]:
    """Start a sign-in for the organisation: returns (provider URL to send the browser to, state)."""
    org = db.scalar(select(Organisation).where(Organisation.slug == org_slug.strip().lower()))
    connection = links.enabled_connection(db, org.id) if org is not None else None
    if org is None or connection is None:
        raise SsoFailed("single sign-on is not enabled for this organisation")
    org_id, issuer, client_id = org.id, connection.issuer, connection.client_id
    db.commit()  # nothing is held while the provider answers
    provider = provider_of(issuer)
    attempt, state = new_attempt(db, org_id=org_id, redirect_uri=redirect_uri, purpose=LOGIN)
    url = oidc.authorization_url(provider, client_id=client_id, redirect_uri=redirect_uri, state=state,
                                 nonce=attempt.nonce, code_verifier=attempt.code_verifier)
    db.commit()
    return url, state


def _client(db: Session, org_id: int) -> _Client:
    connection = links.enabled_connection(db, org_id)
    if connection is None or not connection.client_secret:
        raise SsoFailed("single sign-on is not enabled for this organisation")
    client = _Client(connection.issuer, connection.client_id, connection.client_secret)
    db.commit()
    return client


def _claims(client: _Client, attempt: SsoLoginAttempt, code: str) -> dict[str, Any]:
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


def finish_login(
    db: Session, *, state: str, code: str, browser_state: str | None, error: str = "", ip: str, user_agent: str,
    hours: int, session_token: str | None = None,
) -> Finished:
    """Finish what the browser started: `browser_state` is the state kept in its cookie, `session_token` its
    session cookie (a link must come back to the session that started it)."""
    attempt: SsoLoginAttempt | None = None
    mail: notices.Notice | None = None
    try:
        attempt = consume(db, state, browser_state)
        if error or not code:
            raise SsoFailed(f"provider returned an error ({error[:60] or 'no code'})")
        client = _client(db, attempt.org_id)
        claims = _claims(client, attempt, code)
        if attempt.purpose == LINK:
            mail = links.complete_link(db, attempt, issuer=client.issuer, claims=claims, session_token=session_token,
                                       ip=ip, device=user_agent)
        else:
            user, membership = _linked_member(db, attempt.org_id, client.issuer, oidc.subject(claims))
    except SsoFailed as failure:
        db.rollback()
        linking = attempt is not None and attempt.purpose == LINK
        record(db, action="sso.link_failed" if linking else "login.failed",
               org_id=attempt.org_id if attempt else None,
               actor_user_id=attempt.user_id if attempt is not None and linking else None,
               details={"method": "sso", "reason": failure.reason}, ip_address=ip, device=user_agent)
        db.commit()
        if linking:
            failure.outcome = "link-" + ("failed" if failure.outcome == "sso" else failure.outcome)
        raise
    if mail is not None:
        db.commit()
        notices.deliver([mail])
        return Finished(next_url=LINKED_URL)
    opened = open_session(db, user=user, membership=membership, ip=ip, user_agent=user_agent, hours=hours,
                          method="sso")
    db.commit()
    return Finished(next_url=opened.next_url, opened=opened)
