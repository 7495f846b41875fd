"""Message templates: synced from the Cloud API or defined by the organisation, with their variable mapping."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pkcrm_app.core.db import Base, utcnow


class MessageTemplate(Base):
    __tablename__ = "message_template"
    __table_args__ = (UniqueConstraint("org_id", "name", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(512))
    language: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[str] = mapped_column(String(32), default="APPROVED")
    source: Mapped[str] = mapped_column(String(16), default="local")  # "synced" (Cloud API) or "local"
    body: Mapped[str] = mapped_column(Text, default="")  # the BODY text with {{1}}, {{2}} placeholders
    buttons: Mapped[Any] = mapped_column(JSON, default=list)  # quick-reply titles
    # Which contact field fills each placeholder, e.g. {"1": "name"}; unmapped ones take the contact's name.
    variables: Mapped[Any] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
