"""A WhatsApp business number connected to one organisation; its secrets are encrypted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from pkcrm_app.core.crypto import EncryptedText
from pkcrm_app.core.db import Base, utcnow


class WhatsAppNumber(Base):
    __tablename__ = "whatsapp_number"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    phone_number_id: Mapped[str] = mapped_column(String(64), unique=True)
    display_phone_number: Mapped[str] = mapped_column(String(32), default="")
    app_secret: Mapped[str] = mapped_column(EncryptedText)
    verify_token: Mapped[str] = mapped_column(EncryptedText)
    access_token: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    business_account_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    # Sends per second for this number (Meta: 80 by default, 20 with the Business app, up to 1000); None: setting.
    messages_per_second: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
