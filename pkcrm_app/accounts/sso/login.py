"""Signing in through an organisation's OpenID provider: start (state, nonce, PKCE) and finish (checks, link).

An account is linked only by an email the provider marks verified, and only to an active member of the
organisation the sign-in was started for. Every refusal is audited as `login.failed` with its reason.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from pkcrm_app.accounts.models import Membership, Organisation, User
from pkcrm_app.accounts.service import OpenedSession, open_session
from pkcrm_app.accounts.sso import oidc
from pkcrm_app.accounts.sso.models import SsoConnection, SsoLoginAttempt
from pkcrm_app.audit.service import record
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import InvalidInput

ATTEMPT_LIFETIME = timedelta(minutes=10)
SsoFailed = oidc.SsoFailed


def state_id(state: str) -> str:
    """The stored id of an attempt: the SHA-256 of its state, so the table never holds a usable state."""
    return hashlib.sha256(state.encode()).hexdigest()


def _enabled_connection(db: Session, org_id: int) -> SsoConnection | None:
    return db.scalar(select(SsoConnection).where(SsoConnection.org_id == org_id, SsoConnection.enabled.is_(True)))


def begin_login(db: Session, *, org_slug: str, redirect_uri: str) -> tuple[str, str]:
    """Start a sign-in for the organisation: returns (provider URL to send the browser to, state)."""
    org = db.scalar(select(Organisation).where(Organisation.slug == org_slug.strip().lower()))
    connection = _enabled_connection(db, org.id) if org is not None else None
    if org is None or connection is None:
        raise SsoFailed("single sign-on is not enabled for this organisation")
    try:
        provider = oidc.discover(connection.issuer)
    except InvalidInput as exc:
        raise SsoFailed(f"discovery failed: {exc}") from exc
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    now = utcnow()
    db.execute(delete(SsoLoginAttempt).where(SsoLoginAttempt.expires_at < now - ATTEMPT_LIFETIME))
    db.add(SsoLoginAttempt(id=state_id(state), org_id=org.id, nonce=nonce, code_verifier=verifier,
                           redirect_uri=redirect_uri, created_at=now, expires_at=now + ATTEMPT_LIFETIME))
    db.commit()
    url = oidc.authorization_url(provider, client_id=connection.client_id, redirect_uri=redirect_uri, state=state,
                                 nonce=nonce, code_verifier=verifier)
    return url, state


def _consume(db: Session, state: str) -> SsoLoginAttempt:
    """Mark the attempt used, once: a second callback with the same state, or a late one, is refused."""
    now = utcnow()
    claimed = db.execute(
        update(SsoLoginAttempt)
        .where(SsoLoginAttempt.id == state_id(state), SsoLoginAttempt.used_at.is_(None),
               SsoLoginAttempt.expires_at > now)
        .values(used_at=now)
    )
    db.commit()
    attempt = db.get(SsoLoginAttempt, state_id(state))
    if attempt is None:
        raise SsoFailed("unknown state")
    if getattr(claimed, "rowcount", 0) != 1:
        raise SsoFailed("state already used" if attempt.used_at is not None else "state expired")
    return attempt


def _member(db: Session, org_id: int, email: str) -> tuple[User, Membership]:
    row = db.execute(
        select(User, Membership).join(Membership, Membership.user_id == User.id)
        .where(User.email == email, Membership.org_id == org_id)
    ).first()
    if row is None:
        raise SsoFailed("no member of this organisation has that email")
    user, membership = row
    if not user.is_active or not membership.is_active:
        raise SsoFailed("member is deactivated")
    return user, membership


def _verify(db: Session, attempt: SsoLoginAttempt, code: str) -> tuple[User, Membership]:
    connection = _enabled_connection(db, attempt.org_id)
    if connection is None or not connection.client_secret:
        raise SsoFailed("single sign-on is not enabled for this organisation")
    try:
        provider = oidc.discover(connection.issuer)
    except InvalidInput as exc:
        raise SsoFailed(f"discovery failed: {exc}") from exc
    id_token = oidc.exchange_code(provider, client_id=connection.client_id, client_secret=connection.client_secret,
                                  redirect_uri=attempt.redirect_uri, code=code, code_verifier=attempt.code_verifier)
    claims = oidc.verify_id_token(id_token, oidc.provider_keys(provider), issuer=provider.issuer,
                                  client_id=connection.client_id, nonce=attempt.nonce)
    return _member(db, attempt.org_id, oidc.verified_email(claims))


def finish_login(
    db: Session, *, state: str, code: str, browser_state: str | None, error: str = "", ip: str, user_agent: str,
    hours: int,
) -> OpenedSession:
    """Finish the sign-in the browser started: `browser_state` is the state kept in that browser's cookie."""
    org_id: int | None = None
    try:
        if not state or not browser_state or not hmac.compare_digest(state, browser_state):
            raise SsoFailed("state does not match the one issued to this browser")
        attempt = _consume(db, state)
        org_id = attempt.org_id
        if error or not code:
            raise SsoFailed(f"provider returned an error ({error[:60] or 'no code'})")
        user, membership = _verify(db, attempt, code)
    except SsoFailed as failure:
        db.rollback()
        record(db, action="login.failed", org_id=org_id, details={"method": "sso", "reason": failure.reason},
               ip_address=ip, device=user_agent)
        db.commit()
        raise
    opened = open_session(db, user=user, membership=membership, ip=ip, user_agent=user_agent, hours=hours,
                          method="sso")
    db.commit()
    return opened
