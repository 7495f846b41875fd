"""Password policy and sign-in limits: progressive delay and temporary lockout per account, per device the
person used before, and per IP address.

Attempts are keyed by a hash of the email as typed, so an unknown email is throttled exactly like a
real one and the responses reveal nothing about which accounts exist.

Three counters, each over the last WINDOW, and why:
- per account: failures for the email from browsers that are not a known device of its owner. Five lock the
  account for such browsers. Only a success on that account from such a browser clears them, and a success
  clears nothing else: signing in to one's own account must not reset the count of anyone else's (nor of
  the address).
- per known device (known_devices.py): a browser where the owner signed in before is judged only by its own
  failures (cleared by its own successes), so strangers who lock the account cannot lock its owner out of
  their usual browsers, and the owner's sign-ins there do not give the strangers new guesses.
- per IP: the number of different emails that failed from one address. One busy office behind one proxy
  makes a few failures for a few of its people; a password spray makes failures for dozens of emails. The
  address slows down after IP_SLOW_AFTER failures and locks, for browsers that are not a known device of the
  email tried, only once IP_LOCK_EMAILS different emails failed. A success never clears it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Boolean, DateTime, Index, String, distinct, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from pkcrm_app.core.db import Base, utcnow
from pkcrm_app.core.errors import InvalidInput

MIN_PASSWORD_LENGTH = 10
WINDOW = timedelta(minutes=15)
ACCOUNT_LOCK_AFTER = 5  # failures of one email (from one known device, or from anywhere else) within WINDOW
IP_SLOW_AFTER = 20  # failures from one IP within WINDOW before its answers slow down
IP_LOCK_EMAILS = 30  # different emails failed from one IP within WINDOW that lock it (known devices pass)
MAX_DELAY_SECONDS = 8.0


class LoginAttempt(Base):
    """One sign-in attempt; the email is stored only as a hash."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_email", "email_hash", "created_at"),
                      Index("ix_login_attempt_ip", "ip_address", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64))
    ip_address: Mapped[str] = mapped_column(String(64), default="")
    # The known device the attempt came from (known_devices.recognise), "" for any other browser.
    device_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


@dataclass(frozen=True)
class Throttle:
    """Where a sign-in stands before the password is checked."""

    locked: bool
    delay_seconds: float


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("data") / "common_passwords.txt"
    return frozenset(line.strip() for line in path.read_text().splitlines() if line.strip())


def check_password_strength(password: str, email: str = "") -> None:
    """Refuse short, common or guessable passwords with a reason the user can act on."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    lowered = password.lower()
    if lowered in common_passwords() or lowered.rstrip("0123456789!") in common_passwords():
        raise InvalidInput("this password is on a list of commonly used passwords; choose another")
    if len(set(password)) < 4:
        raise InvalidInput("the password repeats too few different characters")
    local = email.split("@", 1)[0].lower()
    if len(local) >= 4 and local in lowered:
        raise InvalidInput("the password must not contain your email name")


def email_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _delay(failures: int) -> float:
    return 0.0 if failures < 2 else min(MAX_DELAY_SECONDS, 0.25 * 2 ** (failures - 1))


def _account_failures(db: Session, key: str, device: str, since: datetime) -> int:
    """Failures of this email from this device ("" = any browser that is not a known device), since the later
    of `since` and the account's last success from there: the owner signing in on a known device leaves a
    stranger's failures elsewhere standing."""
    last_success = db.scalar(select(func.max(LoginAttempt.created_at)).where(
        LoginAttempt.email_hash == key, LoginAttempt.device_hash == device, LoginAttempt.succeeded.is_(True),
        LoginAttempt.created_at >= since))
    start = max(since, last_success) if last_success else since
    return db.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.email_hash == key, LoginAttempt.device_hash == device, LoginAttempt.succeeded.is_(False),
        LoginAttempt.created_at >= start)) or 0


def _ip_failures(db: Session, ip: str, since: datetime) -> tuple[int, int]:
    """(failures, different emails failed) from this IP since `since`; successes clear nothing here."""
    row = db.execute(select(func.count(), func.count(distinct(LoginAttempt.email_hash))).where(
        LoginAttempt.ip_address == ip, LoginAttempt.succeeded.is_(False), LoginAttempt.created_at >= since)).one()
    return int(row[0] or 0), int(row[1] or 0)


def assess(db: Session, email: str, ip: str, *, device: str | None = None, now: datetime | None = None) -> Throttle:
    """Where a sign-in from this IP (and known device of the email's owner, if any) stands before the
    password is checked: locked, and how long a failure's answer is held back."""
    since = (now or utcnow()) - WINDOW
    key = email_key(email)
    if device:  # the owner's own browser: judged by its own failures only
        failures = _account_failures(db, key, device, since)
        return Throttle(locked=failures >= ACCOUNT_LOCK_AFTER, delay_seconds=_delay(failures))
    by_account = _account_failures(db, key, "", since)
    by_ip, emails = _ip_failures(db, ip, since) if ip else (0, 0)
    locked = by_account >= ACCOUNT_LOCK_AFTER or emails >= IP_LOCK_EMAILS
    ip_pressure = (by_ip - IP_SLOW_AFTER) // 4 + 1 if by_ip >= IP_SLOW_AFTER else 0  # +1 step per 4 more
    return Throttle(locked=locked, delay_seconds=_delay(max(by_account, ip_pressure)))


def remember(db: Session, email: str, ip: str, *, succeeded: bool, device: str | None = None) -> None:
    db.add(LoginAttempt(email_hash=email_key(email), ip_address=ip[:64], device_hash=device or "",
                        succeeded=succeeded))
