"""Single-use link tokens (sign-up, invitation, password reset): random, and stored only as SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity.models import AuthSession
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import InvalidInput
from pkcrm_app.core.events import SessionsEnded, emit_on_commit


def new_token() -> tuple[str, str]:
    """A fresh token for the link and the hash to store."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str | None) -> str:
    return hashlib.sha256((token or "").encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


# Emailed links are bound to the browser that asked for them (a random cookie set with the request; its hash is
# stored with the link). Opened in another browser (a link someone forwarded, to sign the reader in to an account
# that is not theirs), the page shows the account's email and the person must confirm it first; an invitation,
# asked for by an admin, is always confirmed that way.
CONFIRM_ACCOUNT = "Confirm that this is your account before going on."


def browser_hash(browser: str | None) -> str | None:
    """What is stored of the asking browser's cookie (None without one)."""
    return token_hash(browser) if browser else None


def same_browser(stored: str | None, browser: str | None) -> bool:
    """Whether the link is opened in the browser that asked for it."""
    return bool(stored and browser and hmac.compare_digest(stored, token_hash(browser)))


def require_confirmed(email: str, *, confirmed_email: str, bound: bool) -> None:
    """A link opened away from its browser goes on only once the person confirmed the account's email."""
    if not bound and normalise_email(confirmed_email) != email:
        raise InvalidInput(CONFIRM_ACCOUNT)


def end_user_sessions(db: Session, user_id: int, *, keep_session_id: str | None = None) -> int:
    """End every live session of a user in every organisation (but the one kept); open tabs sign out live."""
    live: list[ColumnElement[bool]] = [AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None),
                                       AuthSession.expires_at > utcnow()]
    if keep_session_id is not None:
        live.append(AuthSession.id != keep_session_id)
    rows = db.execute(select(AuthSession.id, AuthSession.org_id).where(*live)).all()
    db.execute(update(AuthSession).where(*live).values(revoked_at=utcnow()).execution_options(synchronize_session=False))
    for org_id in {org_id for _, org_id in rows}:
        emit_on_commit(db, SessionsEnded(org_id=org_id, user_ids=(user_id,)))
    return len(rows)
