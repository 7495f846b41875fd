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


def consume(db: Session, state: str, browser_state: str | None) -> SsoLoginAttempt:
    """Spend the callback's state and the browser's (committed at once), then check they were one and
    still valid: a second callback with either, a late one or a mismatched one is refused."""
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
    db.commit()
    if not state or not browser_state or not hmac.compare_digest(state, browser_state):
        raise SsoFailed("state does not match the one issued to this browser")
    attempt = db.get(SsoLoginAttempt, state_id(state))
    if attempt is None:
        raise SsoFailed("unknown state")
    if claimed != 1:
        raise SsoFailed("state already used" if attempt.used_at is not None else "state expired")
    return attempt
