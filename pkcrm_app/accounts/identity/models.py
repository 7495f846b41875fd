"""Tables of organisations, users, their memberships, login sessions and second factors."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import Boolean, DateTime, Enum, ForeignKey, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from pkcrm_app.core.authz import Role
from pkcrm_app.core.crypto import EncryptedText
from pkcrm_app.core.db import Base, utcnow


class Organisation(Base):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    agents_see_all: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    mfa_policy: Mapped[str] = mapped_column(String(16), default="off", server_default="off")  # MfaPolicy
    access_review_interval_days: Mapped[int] = mapped_column(Integer, default=90, server_default="90")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Profile the user edits themselves (accounts/profile.py); no time zone means the organisation's.
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    time_zone: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Membership(Base):
    """A user's role in one organisation."""

    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("org_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=16, values_callable=lambda e: [r.value for r in e])
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


def session_id_for(token: str | None) -> str:
    """The stored id of a session: the SHA-256 of the cookie secret, never the secret itself."""
    return hashlib.sha256((token or "").encode()).hexdigest()


class AuthSession(Base):
    """A server-side login session; the cookie holds a secret whose SHA-256 is the id."""

    __tablename__ = "auth_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    ip_address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(400), default="")
    browser: Mapped[str] = mapped_column(String(80), default="", server_default="")
    operating_system: Mapped[str] = mapped_column(String(80), default="", server_default="")
    screen: Mapped[str] = mapped_column(String(20), default="", server_default="")
    language: Mapped[str] = mapped_column(String(35), default="", server_default="")
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Second factor: "none" (not needed), "code" or "enrol" (login waits for it), "done" (passed).
    mfa_state: Mapped[str] = mapped_column(String(8), default="none", server_default="none")
    mfa_verified_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # last code: step-up window
    mfa_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class MfaFactor(Base):
    """A user's TOTP second factor; the secret is encrypted at rest, usable once confirmed."""

    __tablename__ = "mfa_factor"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), unique=True)
    secret: Mapped[str] = mapped_column(EncryptedText)  # base32 text of the 20-byte key
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # The highest 30-second time step accepted so far: a code of this step or an earlier one is a replay.
    last_used_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Wrong codes (TOTP or recovery) since the last right one, counted for the person across every sign-in and
    # step-up; enough of them lock the factor until `locked_until`, each lock longer than the last (mfa.py).
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    lockouts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # since the last right code


class MfaRecoveryCode(Base):
    """One single-use recovery code of a user, stored only as a salted hash."""

    __tablename__ = "mfa_recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(128))
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
