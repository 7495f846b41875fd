"""Password policy and login throttling: progressive delay and temporary lockout per account and per IP.

Attempts are keyed by a hash of the email as typed, so an unknown email is throttled exactly like a
real one and the responses reveal nothing about which accounts exist.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Boolean, DateTime, Index, String, func, select
from sqlalchemy.orm import InstrumentedAttribute, Mapped, Session, mapped_column

from pkcrm_app.core.db import Base, utcnow
from pkcrm_app.core.errors import InvalidInput

MIN_PASSWORD_LENGTH = 10
WINDOW = timedelta(minutes=15)
ACCOUNT_LOCK_AFTER = 5  # failures of one email within WINDOW
IP_LOCK_AFTER = 20  # failures from one IP within WINDOW
MAX_DELAY_SECONDS = 8.0


class LoginAttempt(Base):
    """One sign-in attempt; the email is stored only as a hash."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_email", "email_hash", "created_at"),
                      Index("ix_login_attempt_ip", "ip_address", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64))
    ip_address: Mapped[str] = mapped_column(String(64), default="")
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


def _failures(db: Session, column: InstrumentedAttribute[str], value: str, since: datetime) -> int:
    """Failures since the later of `since` and the last success for that key."""
    last_success = db.scalar(select(func.max(LoginAttempt.created_at)).where(
        column == value, LoginAttempt.succeeded.is_(True), LoginAttempt.created_at >= since))
    start = max(since, last_success) if last_success else since
    return db.scalar(select(func.count()).select_from(LoginAttempt).where(
        column == value, LoginAttempt.succeeded.is_(False), LoginAttempt.created_at >= start)) or 0


def assess(db: Session, email: str, ip: str, *, now: datetime | None = None) -> Throttle:
    """Lock after too many recent failures for this email or this IP; delay grows with each failure."""
    since = (now or utcnow()) - WINDOW
    by_email = _failures(db, LoginAttempt.email_hash, email_key(email), since)
    by_ip = _failures(db, LoginAttempt.ip_address, ip, since) if ip else 0
    locked = by_email >= ACCOUNT_LOCK_AFTER or by_ip >= IP_LOCK_AFTER
    worst = max(by_email, by_ip // 4)
    delay = 0.0 if worst < 2 else min(MAX_DELAY_SECONDS, 0.25 * 2 ** (worst - 1))
    return Throttle(locked=locked, delay_seconds=delay)


def remember(db: Session, email: str, ip: str, *, succeeded: bool) -> None:
    db.add(LoginAttempt(email_hash=email_key(email), ip_address=ip, succeeded=succeeded))
