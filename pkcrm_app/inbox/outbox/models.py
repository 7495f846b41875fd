"""The outbox: one row per outbound send, written in the same transaction as its message."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from pkcrm_app.core.crypto import EncryptedJSON
from pkcrm_app.core.db import Base, utcnow


class OutboxState(enum.StrEnum):
    """queued -> in_flight -> sent | failed; an in-flight row whose lease ran out is `unconfirmed` until a
    status webhook names its key (then sent) or the reconcile window passes (then queued again)."""

    QUEUED = "queued"
    IN_FLIGHT = "in_flight"
    UNCONFIRMED = "unconfirmed"
    SENT = "sent"
    FAILED = "failed"


def _values(e: type[enum.Enum]) -> list[str]:
    return [str(m.value) for m in e]


class OutboxItem(Base):
    __tablename__ = "outbox_item"
    __table_args__ = (Index("ix_outbox_item_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"), unique=True)
    number_id: Mapped[int] = mapped_column(ForeignKey("whatsapp_number.id", ondelete="CASCADE"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    # The Cloud API request body, without the media id (added once the upload is done); encrypted like the message.
    payload: Mapped[Any] = mapped_column(EncryptedJSON)
    media_path: Mapped[str | None] = mapped_column(String(300), nullable=True)  # blob key of the file awaiting upload
    media_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    media_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    state: Mapped[OutboxState] = mapped_column(
        Enum(OutboxState, native_enum=False, length=16, values_callable=_values), default=OutboxState.QUEUED
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    call_started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    wa_message_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
