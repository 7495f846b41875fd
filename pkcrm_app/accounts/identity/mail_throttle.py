"""Limits on requests that make the app send a mail (sign-up, password or second-factor reset) per email and
per IP.

Without them anyone could have the app mail an address again and again. A refused request gets the
same answer as an accepted one (so the limit tells nothing about accounts); only the log and the audit
trail say that no mail went out, and why. Emails are stored only as a hash, like login attempts."""

from __future__ import annotations

import enum
import logging
from datetime import datetime, timedelta

from sqlalchemy import DateTime, Enum, Index, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from pkcrm_app.accounts.identity.throttle import email_key
from pkcrm_app.audit.service import record
from pkcrm_app.core.db import Base, utcnow

log = logging.getLogger("pkcrm.mail_throttle")
WINDOW = timedelta(hours=1)
MAILS_PER_EMAIL = 3  # accepted requests for one address (of one kind) within WINDOW
REQUESTS_PER_IP = 20  # accepted requests from one IP (of one kind) within WINDOW


class MailKind(enum.Enum):
    SIGNUP = "signup"
    PASSWORD_RESET = "password_reset"
    FACTOR_RESET = "factor_reset"  # a link that resets one's own second factor (mfa_reset.py)


class MailRequest(Base):
    """One accepted request that may send a mail; rows older than the window are pruned."""

    __tablename__ = "mail_request"
    __table_args__ = (Index("ix_mail_request_email", "kind", "email_hash", "created_at"),
                      Index("ix_mail_request_ip", "kind", "ip_address", "created_at"),
                      Index("ix_mail_request_created_at", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[MailKind] = mapped_column(
        Enum(MailKind, native_enum=False, length=16, values_callable=lambda e: [k.value for k in e])
    )
    email_hash: Mapped[str] = mapped_column(String(64))
    ip_address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


def _over_limit(db: Session, kind: MailKind, email_hash: str, ip: str) -> str | None:
    """Which limit this request would pass ("email" or "ip"), or None."""
    since = utcnow() - WINDOW
    recent = select(func.count()).select_from(MailRequest).where(MailRequest.kind == kind,
                                                                 MailRequest.created_at > since)
    if (db.scalar(recent.where(MailRequest.email_hash == email_hash)) or 0) >= MAILS_PER_EMAIL:
        return "email"
    if ip and (db.scalar(recent.where(MailRequest.ip_address == ip)) or 0) >= REQUESTS_PER_IP:
        return "ip"
    return None


def admit(db: Session, kind: MailKind, email: str, ip: str, *, device: str = "") -> bool:
    """Count this request and say whether its mail may go out; a refusal is logged and audited (without the email).

    Call it only for requests that would send a mail, whether or not the email has an account."""
    key = email_key(email)
    limit = _over_limit(db, kind, key, ip)
    if limit is not None:
        log.warning("%s mail not sent: more than the hourly limit of requests for this %s (from %s)",
                    kind.value, limit, ip or "unknown IP")
        record(db, action=f"{kind.value}.mail_throttled", org_id=None, target_type="email", target_id=key[:16],
               details={"limit": limit, "window_minutes": int(WINDOW.total_seconds() // 60)},
               ip_address=ip, device=device)
        return False
    db.execute(delete(MailRequest).where(MailRequest.created_at <= utcnow() - WINDOW)
               .execution_options(synchronize_session=False))
    db.add(MailRequest(kind=kind, email_hash=key, ip_address=ip[:64]))
    db.flush()
    return True
