"""Chat-export import jobs: one row per uploaded file, with its state and counts, so any tab shows progress."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Enum, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from pkcrm_app.core.crypto import EncryptedJSON, EncryptedText
from pkcrm_app.core.db import Base, utcnow


class ImportState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    REVIEW = "review"  # checked; waits for the importer to tick which authors are team members
    DONE = "done"
    FAILED = "failed"


class ChatImportJob(Base):
    """An uploaded export being (or having been) imported; names and numbers in it are encrypted at rest."""

    __tablename__ = "chat_import_job"
    __table_args__ = (Index("ix_chat_import_job_recent", "org_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"),
                                                           nullable=True)
    filename: Mapped[str] = mapped_column(EncryptedText)  # 'WhatsApp Chat with Alice.zip' names the customer
    spool_path: Mapped[str] = mapped_column(String(500), default="")  # the upload's blob key; "" once finished
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    contact_phone: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)  # chosen by the uploader
    my_name: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)  # the uploader's name in the chat
    state: Mapped[ImportState] = mapped_column(
        Enum(ImportState, native_enum=False, length=8, values_callable=lambda e: [s.value for s in e]))
    total: Mapped[int] = mapped_column(Integer, default=0)  # messages found by the first pass
    processed: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    media_stored: Mapped[int] = mapped_column(Integer, default=0)
    # name -> "contact" | "member:<id>" (ticked by the importer) | "proposed:<id>" (waiting for the importer)
    authors: Mapped[Any] = mapped_column(EncryptedJSON, nullable=True)
    error: Mapped[str] = mapped_column(String(500), default="")
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"), nullable=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("lead.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # the last progress written
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the worker running it
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
