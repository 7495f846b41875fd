"""Tables of contacts, pipelines with their stages, leads and stage history."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, DateTime, Enum, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pkcrm_app.core.db import Base, utcnow


class StageOutcome(enum.StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class Contact(Base):
    """A customer reachable on WhatsApp; `wa_id` is the WhatsApp id (or business-scoped user id)."""

    __tablename__ = "contact"
    __table_args__ = (UniqueConstraint("org_id", "wa_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    wa_id: Mapped[str] = mapped_column(String(64))
    phone_e164: Mapped[str | None] = mapped_column(String(20), nullable=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    def merge_fields(self) -> dict[str, str]:
        """What a message template's variables can be filled with (names as in a template's variable mapping)."""
        shown = self.phone_e164 or self.wa_id
        return {"name": self.name or shown, "first_name": (self.name or "").split(" ")[0] or shown,
                "phone": self.phone_e164 or f"+{self.wa_id}"}


class Pipeline(Base):
    __tablename__ = "pipeline"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Stage(Base):
    __tablename__ = "stage"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipeline.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(default=0)
    outcome: Mapped[StageOutcome] = mapped_column(
        Enum(StageOutcome, native_enum=False, length=8, values_callable=lambda e: [s.value for s in e]),
        default=StageOutcome.OPEN,
    )


class Lead(Base):
    """A sales opportunity with one contact, sitting in one stage of a pipeline."""

    __tablename__ = "lead"
    __table_args__ = (
        Index("ix_lead_board", "org_id", "stage_id", "position"),
        Index("ix_lead_activity", "org_id", "pipeline_id", "stage_id", "last_activity_at", "id"),  # a column's newest
        Index("ix_lead_totals", "org_id", "pipeline_id", "stage_id", "currency", "value"),  # its count and total
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"), index=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipeline.id"), index=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("stage.id"), index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    value: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    owner_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True, index=True
    )
    position: Mapped[float] = mapped_column(default=0.0)
    source: Mapped[str] = mapped_column(String(40), default="whatsapp")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    stage_entered_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Its conversation's newest message, else its creation: the board's order (kept by inbox.inbound).
    last_activity_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class LeadStageChange(Base):
    """One move of a lead between stages: the history behind time-in-stage and conversion."""

    __tablename__ = "lead_stage_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"), index=True)
    from_stage_id: Mapped[int | None] = mapped_column(ForeignKey("stage.id"), nullable=True)
    to_stage_id: Mapped[int] = mapped_column(ForeignKey("stage.id"))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True)
    changed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
