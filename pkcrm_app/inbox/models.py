"""Tables of conversations and messages; bodies and raw payloads are encrypted at rest."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Enum, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pkcrm_app.core.crypto import EncryptedJSON, EncryptedText
from pkcrm_app.core.db import Base, utcnow


class Direction(enum.StrEnum):
    INBOUND = "in"
    OUTBOUND = "out"


class MessageStatus(enum.StrEnum):
    """Delivery state; ranks only move forward, `failed` keeps its error."""

    RECEIVED = "received"
    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    PLAYED = "played"
    FAILED = "failed"


def _values(e: type[enum.Enum]) -> list[str]:
    return [str(m.value) for m in e]


class Conversation(Base):
    """The thread with one contact; keeps what the board shows without reading every message."""

    __tablename__ = "conversation"
    __table_args__ = (UniqueConstraint("org_id", "contact_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"), index=True)
    last_message_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_inbound_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_message_preview: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    unread_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Message(Base):
    __tablename__ = "message"
    __table_args__ = (
        UniqueConstraint("org_id", "wa_message_id"),
        Index("ix_message_thread", "conversation_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"))
    wa_message_id: Mapped[str] = mapped_column(String(200))
    direction: Mapped[Direction] = mapped_column(Enum(Direction, native_enum=False, length=8, values_callable=_values))
    type: Mapped[str] = mapped_column(String(32))
    body: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)
    raw_payload: Mapped[Any] = mapped_column(EncryptedJSON, nullable=True)
    status: Mapped[MessageStatus] = mapped_column(
        Enum(MessageStatus, native_enum=False, length=12, values_callable=_values)
    )
    error: Mapped[Any] = mapped_column(EncryptedJSON, nullable=True)
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True)
    sent_at: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    status_updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # What the message's kind carries (caption, file name, location, contact cards, reply, order, system event,
    # unsupported errors, referral...), see whatsapp/inbound_types.py.
    content: Mapped[Any] = mapped_column(EncryptedJSON, nullable=True)
    context_wamid: Mapped[str | None] = mapped_column(String(200), nullable=True)  # the quoted message
    reacts_to: Mapped[str | None] = mapped_column(String(200), nullable=True)  # a reaction's target message
    forwarded: Mapped[str | None] = mapped_column(String(12), nullable=True)  # "forwarded" or "frequently"


class MediaState(enum.StrEnum):
    PENDING = "pending"
    STORED = "stored"
    FAILED = "failed"


class MessageMedia(Base):
    """The file of an image, video, audio, document or sticker message: fetched after the webhook answered,
    kept encrypted under the instance folder (never a public one), served only to members who see the thread."""

    __tablename__ = "message_media"
    __table_args__ = (Index("ix_message_media_due", "state", "next_attempt_at"),)

    message_id: Mapped[int] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    phone_number_id: Mapped[str] = mapped_column(String(64))  # whose access token fetches it
    media_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    mime_type: Mapped[str] = mapped_column(String(128), default="")
    sha256: Mapped[str] = mapped_column(String(128), default="")
    size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    state: Mapped[MediaState] = mapped_column(Enum(MediaState, native_enum=False, length=8, values_callable=_values))
    reason: Mapped[str] = mapped_column(String(300), default="")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the worker downloading it
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    stored_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
