"""Second factor: TOTP (RFC 6238) enrolled by QR code, with single-use recovery codes.

Wrong codes are counted for the PERSON, on their factor row, across every sign-in and step-up: a counter
per login session let each new password sign-in bring five more guesses (about 27 a second from one
client, a hit expected within hours). Each code, TOTP or recovery, first claims an attempt with one
conditional UPDATE, so parallel requests cannot exceed the limit; MAX_FAILED_CODES wrong ones in a row lock
the factor (even the right code is refused) for FIRST_LOCK, doubling with each further lock up to
LONGEST_LOCK, until a right code clears both counts. A lock mails the person and alerts the admins of every
organisation they belong to.

Functions add to the caller's transaction and flush; the caller commits (audit events included).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import segno
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity.models import Membership, MfaFactor, MfaRecoveryCode, User
from pkcrm_app.accounts.identity.notices import mail_after_commit
from pkcrm_app.accounts.security.alerts import note_factor_event
from pkcrm_app.accounts.security.models import AlertKind
from pkcrm_app.audit.service import record
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import InvalidInput, NotFound

DIGITS = 6
TIME_STEP = 30  # seconds
WINDOW = 1  # steps accepted either side of the current one, for clock drift and typing time
SECRET_BYTES = 20  # 160 bits, the HMAC-SHA1 block-friendly size RFC 4226 recommends
RECOVERY_CODE_COUNT = 10
# 32 symbols without the look-alikes l, o, 0, 1: 12 symbols carry 60 bits.
RECOVERY_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
RECOVERY_GROUPS, RECOVERY_GROUP_LEN = 3, 4
_HASH_SCHEME = "sha256"
MAX_FAILED_CODES = 5  # wrong codes in a row (TOTP or recovery, any sign-in or step-up) before the factor locks
FIRST_LOCK = timedelta(minutes=15)  # doubled for each further lock until a right code
LONGEST_LOCK = timedelta(hours=24)

Moment = datetime | float | int | None


@dataclass(frozen=True)
class CodeCheck:
    """One code's outcome. `locked_until` is set when the factor is locked (by this code, then `just_locked`,
    or before it): until then every code, the right one included, is refused."""

    accepted: bool
    locked_until: datetime | None = None
    just_locked: bool = False


@dataclass(frozen=True)
class Enrolment:
    """What the user needs to add the factor to an authenticator app; shown once, never logged."""

    secret: str = field(repr=False)  # base32, for typing in by hand
    provisioning_uri: str = field(repr=False)  # otpauth://totp/...
    qr_svg: str = field(repr=False)  # inline <svg> of the provisioning URI
    qr_svg_data_uri: str = field(repr=False)  # the same SVG as a data: URI, for an <img src>


def totp_for(key: bytes, digits: int = DIGITS) -> TOTP:
    """The one TOTP construction used everywhere (HMAC-SHA1, 30 s steps); digits vary only for RFC vectors."""
    return TOTP(key, digits, SHA1(), TIME_STEP)


def _epoch(now: Moment) -> float:
    if now is None:
        return datetime.now(UTC).timestamp()
    if isinstance(now, datetime):
        return (now if now.tzinfo else now.replace(tzinfo=UTC)).timestamp()  # naive means UTC, as in storage
    return float(now)


def time_step(now: Moment = None) -> int:
    """The RFC 6238 counter T for a moment (datetime, naive meaning UTC, or epoch seconds)."""
    return int(_epoch(now) // TIME_STEP)


def code_at(secret: str, now: Moment = None) -> str:
    """The code an authenticator app shows for this base32 secret at this moment."""
    return totp_for(_key(secret)).generate(_epoch(now)).decode()


def _key(secret: str) -> bytes:
    return base64.b32decode(secret + "=" * (-len(secret) % 8))


def _matching_step(secret: str, code: str, now: Moment) -> int | None:
    """The newest step within the window whose code equals `code`; every candidate is compared in constant time."""
    totp, current, given = totp_for(_key(secret)), time_step(now), code.encode()
    matched = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        if hmac.compare_digest(totp.generate(step * TIME_STEP), given):
            matched = step
    return matched


def _org_of(db: Session, user_id: int) -> int | None:
    """The organisation an MFA event is filed under: the user's first active membership, if any."""
    return db.scalar(
        select(Membership.org_id).where(Membership.user_id == user_id)
        .order_by(Membership.is_active.desc(), Membership.id).limit(1)
    )


def _audit(db: Session, user_id: int, action: str, details: dict[str, str] | None = None, *,
           actor_user_id: int | None = None, org_id: int | None = None) -> None:
    """File the event under `org_id`, the organisation the user acts in; only without one, under their first."""
    record(db, action=action, org_id=org_id if org_id is not None else _org_of(db, user_id),
           actor_user_id=actor_user_id or user_id, target_type="user", target_id=user_id, details=details)


def _audit_everywhere(db: Session, user_id: int, action: str, details: dict[str, str] | None = None, *,
                      actor_user_id: int | None = None) -> None:
    """File the event in the audit log of EVERY organisation the person belongs to: the factor is the person's,
    so its reset or lock concerns each of them (the details never name the organisation it happened in)."""
    org_ids: list[int | None] = list(db.scalars(select(Membership.org_id).where(Membership.user_id == user_id)
                                                .order_by(Membership.org_id)))
    for org_id in org_ids or [None]:
        record(db, action=action, org_id=org_id, actor_user_id=actor_user_id or user_id, target_type="user",
               target_id=user_id, details=details)


def _factor(db: Session, user_id: int) -> MfaFactor | None:
    return db.scalar(select(MfaFactor).where(MfaFactor.user_id == user_id))


def begin_enrolment(
    db: Session, user_id: int, issuer: str = "PK WhatsApp CRM", account: str | None = None
) -> Enrolment:
    """Start (or restart) enrolment with a fresh secret; a confirmed factor must be reset first."""
    user = db.get(User, user_id)
    if user is None:
        raise NotFound("no such user")
    factor = _factor(db, user_id)
    if factor is not None and factor.confirmed_at is not None:
        raise InvalidInput("two-factor authentication is already set up; reset it before enrolling again")
    key = secrets.token_bytes(SECRET_BYTES)
    secret = base64.b32encode(key).decode().rstrip("=")
    if factor is None:
        db.add(MfaFactor(user_id=user_id, secret=secret))
    else:  # an abandoned enrolment: its secret may have been seen, so it is replaced, never reused
        factor.secret, factor.last_used_step, factor.created_at = secret, None, utcnow()
    db.flush()
    uri = totp_for(key).get_provisioning_uri(account or user.email, issuer)
    qr = segno.make(uri, error="m")
    return Enrolment(secret=secret, provisioning_uri=uri, qr_svg=qr.svg_inline(scale=4),
                     qr_svg_data_uri=qr.svg_data_uri(scale=4))


def confirm_enrolment(db: Session, user_id: int, code: str, *, now: Moment = None,
                      org_id: int | None = None) -> list[str]:
    """Check the first code from the app, switch the factor on and return ten recovery codes (shown once)."""
    factor = _factor(db, user_id)
    if factor is None or factor.confirmed_at is not None:
        raise InvalidInput("there is no two-factor enrolment waiting for confirmation")
    step = _matching_step(factor.secret, _digits(code), now)
    if step is None:
        _audit(db, user_id, "mfa.failed", {"stage": "enrolment"}, org_id=org_id)
        db.flush()
        raise InvalidInput("the code is not correct; check the authenticator app's clock and try again")
    factor.confirmed_at, factor.last_used_step = utcnow(), step  # the confirming code cannot sign in too
    codes = _replace_recovery_codes(db, user_id)
    _audit(db, user_id, "mfa.enrolled", org_id=org_id)
    db.flush()
    return codes


def verify_code(db: Session, user_id: int, code: str, *, now: Moment = None, org_id: int | None = None) -> bool:
    """True for an unused TOTP code within the window or an unused recovery code; each is accepted only once."""
    return check_code(db, user_id, code, now=now, org_id=org_id).accepted


def check_code(db: Session, user_id: int, code: str, *, now: Moment = None, org_id: int | None = None) -> CodeCheck:
    """Check a TOTP or recovery code as one counted attempt of the person (see the module docstring).

    `now` is the authenticator's clock (for tests); locks run on the database clock (utcnow)."""
    factor = _factor(db, user_id)
    if factor is None or factor.confirmed_at is None:
        if db.get(User, user_id) is not None:
            _audit(db, user_id, "mfa.failed", {"reason": "not enrolled"}, org_id=org_id)
            db.flush()
        return CodeCheck(accepted=False)
    if not _claim_attempt(db, factor):
        _audit(db, user_id, "mfa.failed", {"reason": "locked"}, org_id=org_id)
        db.flush()
        return CodeCheck(accepted=False, locked_until=factor.locked_until)
    digits = _digits(code)
    if len(digits) == DIGITS and digits.isdigit():
        accepted, reason = _use_totp(db, factor, digits, now)
        action, details = ("mfa.verified", {"method": "totp"}) if accepted else ("mfa.failed", {"reason": reason})
    elif _use_recovery_code(db, user_id, code):
        accepted = True
        action, details = "mfa.recovery_code_used", {"left": str(recovery_codes_left(db, user_id))}
    else:
        accepted, action, details = False, "mfa.failed", {"reason": "invalid"}
    _audit(db, user_id, action, details, org_id=org_id)
    if accepted:
        factor.failed_attempts, factor.lockouts = 0, 0
    elif factor.failed_attempts >= MAX_FAILED_CODES:
        return CodeCheck(accepted=False, locked_until=_lock(db, factor), just_locked=True)
    db.flush()
    return CodeCheck(accepted=accepted)


def _claim_attempt(db: Session, factor: MfaFactor) -> bool:
    """Count this code before checking it, in one conditional UPDATE (the row stays locked until commit, so
    racing requests queue up); False while the factor is locked, and then nothing is counted."""
    claimed = db.execute(
        update(MfaFactor)
        .where(MfaFactor.id == factor.id, MfaFactor.failed_attempts < MAX_FAILED_CODES,
               or_(MfaFactor.locked_until.is_(None), MfaFactor.locked_until <= utcnow()))
        .values(failed_attempts=MfaFactor.failed_attempts + 1)
        .execution_options(synchronize_session=False)
    )
    db.refresh(factor)
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


def lock_period(lockouts: int) -> timedelta:
    """How long the factor locks after `lockouts` earlier locks with no right code since: 15 min, 30 min, ... 24 h."""
    doubled: timedelta = FIRST_LOCK * (2 ** min(lockouts, 16))
    return min(LONGEST_LOCK, doubled)


def _spoken(period: timedelta) -> str:
    minutes = int(period.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} minutes"
    hours = minutes // 60
    return "1 hour" if hours == 1 else f"{hours} hours"


def _lock(db: Session, factor: MfaFactor) -> datetime:
    """Lock the factor for the next back-off period: audited in every organisation of the person, their admins
    alerted, the person mailed (after commit)."""
    period = lock_period(factor.lockouts)
    until = utcnow() + period
    factor.failed_attempts, factor.locked_until, factor.lockouts = 0, until, factor.lockouts + 1
    user = db.get(User, factor.user_id)
    details = {"minutes": str(int(period.total_seconds() // 60)), "lock": str(factor.lockouts)}
    _audit_everywhere(db, factor.user_id, "mfa.locked", details)
    if user is not None:
        note_factor_event(db, user_id=user.id, kind=AlertKind.MFA_LOCKED, details=details, message=(
            f"{user.name}'s two-factor sign-in was locked for {_spoken(period)} after {MAX_FAILED_CODES} wrong "
            "codes in a row"))
        mail_after_commit(db, user.email, "Two-factor sign-in to your PK WhatsApp CRM account is locked", (
            f"Hello {user.name},\n\n{MAX_FAILED_CODES} wrong two-factor codes in a row were entered for your "
            f"account, so two-factor sign-in is locked for {_spoken(period)} (until {until:%Y-%m-%d %H:%M} UTC). "
            "Each further lock lasts longer.\n\nIf that was not you, someone knows your password: change it "
            "now (\"Forgot your password?\" on the sign-in page). Your organisations' administrators have been "
            "alerted."))
    db.flush()
    return until


def _digits(code: str) -> str:
    return "".join(code.split())


def _use_totp(db: Session, factor: MfaFactor, code: str, now: Moment) -> tuple[bool, str]:
    """Claim the code's step atomically: a step at or before the last one used is a replay."""
    step = _matching_step(factor.secret, code, now)
    if step is None:
        return False, "invalid"
    # One conditional UPDATE, so two requests racing with the same code cannot both win.
    claimed = db.execute(
        update(MfaFactor)
        .where(MfaFactor.id == factor.id)
        .where((MfaFactor.last_used_step.is_(None)) | (MfaFactor.last_used_step < step))
        .values(last_used_step=step)
        .execution_options(synchronize_session=False)
    )
    db.refresh(factor)
    return (True, "") if claimed.rowcount == 1 else (False, "reused")  # type: ignore[attr-defined]


# Recovery codes: SHA-256 with a per-code salt rather than argon2id. They are 60-bit random values, not
# human-chosen passwords, so a slow hash buys little against an offline search, while checking a guess
# against all ten argon2 hashes would cost about a second per attempt (a denial-of-service lever).


def _hash_recovery_code(canonical: str, salt: bytes) -> str:
    digest = hashlib.sha256(salt + canonical.encode()).hexdigest()
    return f"{_HASH_SCHEME}${salt.hex()}${digest}"


def _canonical_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def _new_recovery_code() -> str:
    groups = (
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_GROUP_LEN)) for _ in range(RECOVERY_GROUPS)
    )
    return "-".join(groups)


def _replace_recovery_codes(db: Session, user_id: int) -> list[str]:
    """Forget the user's recovery codes and issue a new set; only salted hashes are stored."""
    db.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    db.add_all(
        MfaRecoveryCode(user_id=user_id, code_hash=_hash_recovery_code(_canonical_recovery_code(code),
                                                                       secrets.token_bytes(16)))
        for code in codes
    )
    return codes


def _use_recovery_code(db: Session, user_id: int, code: str) -> bool:
    """Mark the matching unused recovery code as used; every stored hash is compared, in constant time."""
    canonical = _canonical_recovery_code(code)
    if len(canonical) != RECOVERY_GROUPS * RECOVERY_GROUP_LEN:
        return False
    unused = db.execute(
        select(MfaRecoveryCode.id, MfaRecoveryCode.code_hash)
        .where(MfaRecoveryCode.user_id == user_id, MfaRecoveryCode.used_at.is_(None))
    ).all()
    matched = None
    for code_id, stored in unused:
        scheme, _, rest = stored.partition("$")
        salt_hex, _, _digest = rest.partition("$")
        if scheme == _HASH_SCHEME and hmac.compare_digest(_hash_recovery_code(canonical, bytes.fromhex(salt_hex)),
                                                          stored):
            matched = code_id
    if matched is None:
        return False
    claimed = db.execute(
        update(MfaRecoveryCode)
        .where(MfaRecoveryCode.id == matched, MfaRecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


def regenerate_recovery_codes(db: Session, user_id: int, *, org_id: int | None = None) -> list[str]:
    """Replace all of the user's recovery codes with ten new ones (shown once)."""
    codes = _replace_recovery_codes(db, user_id)
    _audit(db, user_id, "mfa.recovery_codes_replaced", org_id=org_id)
    db.flush()
    return codes


def reset_factor(db: Session, user_id: int, *, actor_user_id: int | None = None, how: str = "") -> bool:
    """Remove the user's factor and recovery codes (admin reset or lost device); False when there was none.

    Recorded in the audit log of every organisation the person belongs to (`how`: "self", "email" or "admin"),
    since each of them relied on it."""
    removed = db.execute(delete(MfaFactor).where(MfaFactor.user_id == user_id).execution_options(
        synchronize_session=False))
    db.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id).execution_options(
        synchronize_session=False))
    had_factor = bool(removed.rowcount)  # type: ignore[attr-defined]
    if had_factor:
        _audit_everywhere(db, user_id, "mfa.reset", {"how": how} if how else None, actor_user_id=actor_user_id)
    db.flush()
    return had_factor


def has_confirmed_factor(db: Session, user_id: int) -> bool:
    """True when the user has a working second factor."""
    return db.scalar(
        select(MfaFactor.id).where(MfaFactor.user_id == user_id, MfaFactor.confirmed_at.is_not(None))
    ) is not None


def recovery_codes_left(db: Session, user_id: int) -> int:
    """How many unused recovery codes the user still has."""
    return db.scalar(
        select(func.count()).select_from(MfaRecoveryCode)
        .where(MfaRecoveryCode.user_id == user_id, MfaRecoveryCode.used_at.is_(None))
    ) or 0
