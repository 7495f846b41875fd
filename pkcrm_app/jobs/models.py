"""The `job` table: work of a kind that has no row of its own (re-sealing blobs now; exports, backups next)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import DateTime, Enum, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from pkcrm_app.core.base import Base, utcnow


class JobState(enum.StrEnum):
    """queued -> running -> done | failed; a running job whose lease ran out is claimed again."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Job(Base):
    """One job: its kind, an idempotency key (queuing the same key twice queues it once), lease and progress."""

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_due", "kind", "state", "run_after"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), nullable=True,
                                               index=True)
    state: Mapped[JobState] = mapped_column(
        Enum(JobState, native_enum=False, length=8, values_callable=lambda e: [s.value for s in e]),
        default=JobState.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_after: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    done: Mapped[int] = mapped_column(Integer, default=0)  # progress: items finished of `total`
    total: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
