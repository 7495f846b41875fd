"""A user's own profile (name, phone, language, time zone) and password."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import available_timezones

from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity.models import Organisation, User, session_id_for
from pkcrm_app.accounts.identity.passwords import hash_password, verify_password
from pkcrm_app.accounts.identity.throttle import check_password_strength
from pkcrm_app.accounts.identity.tokens import end_user_sessions
from pkcrm_app.accounts.organisations.signup import required_text
from pkcrm_app.audit.service import record
from pkcrm_app.core.authz import Actor
from pkcrm_app.core.errors import InvalidInput, NotFound

LANGUAGES: dict[str, str] = {"en": "English", "ur": "Urdu", "ar": "Arabic", "hi": "Hindi", "bn": "Bengali",
                             "fr": "French", "es": "Spanish", "pt": "Portuguese", "tr": "Turkish", "id": "Indonesian"}
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass(frozen=True)
class Profile:
    name: str
    email: str
    phone: str
    language: str
    time_zone: str  # "" means: the organisation's
    org_time_zone: str


@lru_cache(maxsize=1)
def time_zones() -> tuple[str, ...]:
    """The IANA time zones a user may choose, sorted."""
    return tuple(sorted(tz for tz in available_timezones() if "/" in tz or tz == "UTC"))


def normalise_phone(phone: str) -> str:
    """E.164 (+ and up to 15 digits); spaces, dashes, dots and brackets are dropped, 00 becomes +."""
    compact = re.sub(r"[\s\-().]", "", phone)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if compact and not E164.match(compact):
        raise InvalidInput("Enter the phone number in international format, e.g. +92 300 1234567.")
    return compact


def _me(db: Session, actor: Actor) -> User:
    user = db.get(User, actor.user_id) if actor.user_id else None
    if user is None:
        raise NotFound("no such user")
    return user


def get_profile(db: Session, actor: Actor) -> Profile:
    user = _me(db, actor)
    org = db.get(Organisation, actor.org_id)
    return Profile(name=user.name, email=user.email, phone=user.phone or "", language=user.language or "en",
                   time_zone=user.time_zone or "", org_time_zone=org.time_zone if org else "UTC")


def update_profile(db: Session, actor: Actor, *, name: str, phone: str, language: str, time_zone: str) -> Profile:
    """Change one's own name, phone, language and time zone; each value is checked, nothing saved on error."""
    user = _me(db, actor)
    name = required_text(name, "your name")
    phone = normalise_phone(phone)
    if language not in LANGUAGES:
        raise InvalidInput("Choose a language from the list.")
    time_zone = time_zone.strip()
    if time_zone and time_zone not in time_zones():
        raise InvalidInput("Choose a time zone from the list (e.g. Asia/Karachi).")
    new = {"name": name, "phone": phone or None, "language": language, "time_zone": time_zone or None}
    changed = sorted(key for key, value in new.items() if getattr(user, key) != value)
    for key in changed:
        setattr(user, key, new[key])
    if changed:
        record(db, action="profile.updated", org_id=actor.org_id, actor_user_id=user.id, target_type="user",
               target_id=user.id, details={"fields": changed})
    return get_profile(db, actor)


def change_password(
    db: Session, actor: Actor, *, current: str, new: str, current_token: str | None, ip: str = "", device: str = ""
) -> int:
    """Replace one's password after proving the current one; every other session of the user ends."""
    user = _me(db, actor)
    if not verify_password(user.password_hash, current):
        raise InvalidInput("The current password is incorrect.")
    if new == current:
        raise InvalidInput("The new password must differ from the current one.")
    check_password_strength(new, user.email)
    user.password_hash = hash_password(new)
    ended = end_user_sessions(db, user.id, keep_session_id=session_id_for(current_token))
    record(db, action="password.changed", org_id=actor.org_id, actor_user_id=user.id, target_type="user",
           target_id=user.id, details={"other_sessions_ended": ended}, ip_address=ip, device=device)
    return ended
