"""Known devices: a browser where a person signed in successfully carries a signed token that lets them past
the lockout strangers cause by guessing at their email (see throttle.py).

Why a signed cookie rather than exempting networks seen before: offices, mobile carriers and VPNs put many
people (strangers included) behind one address, and a guesser may well sit on a network the owner used; a
token only the owner's own browser holds cannot be borrowed that way. Why signed rather than stored: nothing
grows per sign-in and nothing needs pruning. The MAC key is derived from the master key, and the MAC covers
the user's password hash, so a password change or reset withdraws every token issued before it (someone who
signed in with a stolen password loses the exemption once the owner changes it); a rotation of the master
key withdraws all of them, which only costs each person the exemption until their next sign-in.

A token never opens anything: it only chooses which failure counter a sign-in attempt is judged by (that
device's own, with the same limits), so a stolen token buys no extra guesses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity.models import User
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.keyring import keyring_for

KNOWN_DEVICE_LIFETIME = timedelta(days=90)
MAX_PEOPLE_PER_BROWSER = 5  # a shared computer keeps a token for each of its last few people
SEPARATOR = "~"  # between tokens in the cookie; tokens themselves use "." (both are plain cookie characters)
_PURPOSE = "known-device-v1"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _mac(db: Session, payload: str, password_hash: str) -> str:
    key = keyring_for(db.get_bind().dialect).master.derive(_PURPOSE)
    return _b64(hmac.new(key, f"{payload}\x00{password_hash}".encode(), hashlib.sha256).digest()[:18])


def issue(db: Session, user: User, *, now: datetime | None = None) -> str:
    """A new token for this person on this browser (after a sign-in that passed every factor)."""
    issued = int((now or utcnow()).timestamp())
    payload = f"{user.id}.{issued}.{_b64(secrets.token_bytes(12))}"
    return f"{payload}.{_mac(db, payload, user.password_hash)}"


def _parts(token: str) -> tuple[int, int, str, str] | None:
    pieces = token.split(".")
    if len(pieces) != 4 or not pieces[0].isdigit() or not pieces[1].isdigit():
        return None
    return int(pieces[0]), int(pieces[1]), pieces[2], pieces[3]


def recognise(db: Session, cookie: str | None, user: User | None, *, now: datetime | None = None) -> str | None:
    """The device id (a hash of the token's nonce) when the cookie holds a valid, unexpired token of this user."""
    if not cookie or user is None:
        return None
    oldest = int(((now or utcnow()) - KNOWN_DEVICE_LIFETIME).timestamp())
    for token in cookie.split(SEPARATOR)[:MAX_PEOPLE_PER_BROWSER]:
        parts = _parts(token)
        if parts is None or parts[0] != user.id or parts[1] < oldest:
            continue
        user_id, issued, nonce, mac = parts
        if hmac.compare_digest(_mac(db, f"{user_id}.{issued}.{nonce}", user.password_hash), mac):
            return hashlib.sha256(nonce.encode()).hexdigest()
    return None


def add_to_cookie(cookie: str | None, token: str) -> str:
    """The cookie's new value: this token first, without older tokens of the same person, at most five people."""
    user_id = token.split(".", 1)[0]
    others = [t for t in (cookie or "").split(SEPARATOR) if _parts(t) is not None and t.split(".", 1)[0] != user_id]
    return SEPARATOR.join([token, *others][:MAX_PEOPLE_PER_BROWSER])
