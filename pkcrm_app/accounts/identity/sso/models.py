"""Tables of single sign-on: one OpenID Connect connection per organisation, the provider accounts members
linked to themselves, and short-lived sign-in (or link) attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from pkcrm_app.core.crypto import EncryptedText
from pkcrm_app.core.db import Base, utcnow

LOGIN, LINK = "login", "link"  # what an attempt is for


class SsoConnection(Base):
    """An organisation's OpenID provider; the client secret is encrypted at rest and never shown again."""

    __tablename__ = "sso_connection"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), unique=True)
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SsoLink(Base):
    """A member's provider account (issuer + subject), linked by the member while signed in with their
    password: the only thing a single sign-on matches. An owner is signed in only after opting in."""

    __tablename__ = "sso_link"
    __table_args__ = (UniqueConstraint("org_id", "user_id", name="uq_sso_link_member"),
                      UniqueConstraint("org_id", "issuer", "subject", name="uq_sso_link_subject"))

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"))  # first in both keys
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    owner_sign_in: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    linked_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class SsoLoginAttempt(Base):
    """One started sign-in or link: usable once, for ten minutes. The id is the SHA-256 of the `state` sent out.

    A link attempt names the member and the session (its stored id) it was started from: only that session
    can finish it."""

    __tablename__ = "sso_login_attempt"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(8), default=LOGIN, server_default=LOGIN)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), nullable=True)
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(EncryptedText)  # PKCE secret, kept until the code is exchanged
    redirect_uri: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
