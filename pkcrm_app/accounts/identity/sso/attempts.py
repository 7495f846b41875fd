"""Started sign-ins and links: one row per `state` sent to the provider, usable once, for ten minutes.

A callback spends the state it carries (and the one in the browser's cookie) before anything else is
checked, so a refused or failed callback can never be replayed, whatever it failed on."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity.sso import oidc
from pkcrm_app.accounts.identity.sso.models import SsoLoginAttempt
from pkcrm_app.accounts.identity.sso.oidc import SsoFailed
from pkcrm_app.core.db import utcnow

ATTEMPT_LIFETIME = timedelta(minutes=10)


def state_id(state: str) -> str:
    """The stored id of an attempt: the SHA-256 of its state, so the table never holds a usable state."""
    return hashlib.sha256(state.encode()).hexdigest()


def new_attempt(db: Session, *, org_id: int, redirect_uri: str, purpose: str, user_id: int | None = None,
                session_id: str | None = None) -> tuple[SsoLoginAttempt, str]:
    """A fresh attempt (state, nonce, PKCE verifier), added to the session; returns it and the state to send."""
    state = secrets.token_urlsafe(32)
    now = utcnow()
    db.execute(delete(SsoLoginAttempt).where(SsoLoginAttempt.expires_at < now - ATTEMPT_LIFETIME))
    attempt = SsoLoginAttempt(
        id=state_id(state), org_id=org_id, purpose=purpose, user_id=user_id, session_id=session_id,
        nonce=secrets.token_urlsafe(24), code_verifier=secrets.token_urlsafe(48), redirect_uri=redirect_uri,
        created_at=now, expires_at=now + ATTEMPT_LIFETIME)
    db.add(attempt)
    return attempt, state


def start(db: Session, provider: oidc.Provider, *, org_id: int, client_id: str, redirect_uri: str, purpose: str,
          user_id: int | None = None, session_id: str | None = None) -> tuple[str, SsoLoginAttempt, str]:
    """A new attempt at `provider`: returns the URL to send the browser to, the attempt and its state."""
    attempt, state = new_attempt(db, org_id=org_id, redirect_uri=redirect_uri, purpose=purpose, user_id=user_id,
                                 session_id=session_id)
    url = oidc.authorization_url(provider, client_id=client_id, redirect_uri=redirect_uri, state=state,
                                 nonce=attempt.nonce, code_verifier=attempt.code_verifier)
    return url, attempt, state


def spend(db: Session, state: str, browser_state: str | None) -> int:
    """Spend the callback's state and the browser's; returns how many of the callback's were still unspent.
    The caller commits this at once, before anything else is checked (`spent_attempt`)."""
    now = utcnow()
    spent = {state_id(s) for s in (state, browser_state) if s}
    claimed = 0
    for stored_id in spent:
        result = db.execute(
            update(SsoLoginAttempt)
            .where(SsoLoginAttempt.id == stored_id, SsoLoginAttempt.used_at.is_(None), SsoLoginAttempt.expires_at > now)
            .values(used_at=now)
        )
        if stored_id == state_id(state or ""):
            claimed = int(getattr(result, "rowcount", 0) or 0)
    return claimed


def spent_attempt(db: Session, state: str, browser_state: str | None, claimed: int) -> SsoLoginAttempt:
    """The attempt the callback just spent, after checking the two states were one and still valid: a second
    callback with either, a late one or a mismatched one is refused."""
    if not state or not browser_state or not hmac.compare_digest(state, browser_state):
        raise SsoFailed("state does not match the one issued to this browser")
    attempt = db.get(SsoLoginAttempt, state_id(state))
    if attempt is None:
        raise SsoFailed("unknown state")
    if claimed != 1:
        raise SsoFailed("state already used" if attempt.used_at is not None else "state expired")
    return attempt
