"""Tables of access reviews: one review per round, one item per member as they stood when it started."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Enum, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pkcrm_app.core.authz import Role
from pkcrm_app.core.db import Base, utcnow


class ReviewDecision(enum.StrEnum):
    KEEP = "keep"
    CHANGE = "change"
    REVOKE = "revoke"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class AccessReview(Base):
    """One round of reviewing who can reach the organisation's data; open until completed."""

    __tablename__ = "access_review"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    started_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"),
                                                           nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    completed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"),
                                                             nullable=True)
    next_due_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class AccessReviewItem(Base):
    """A member as they stood when the review started, and what the reviewer decided about them."""

    __tablename__ = "access_review_item"
    __table_args__ = (UniqueConstraint("review_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("access_review.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    role_at_review: Mapped[Role] = mapped_column(_enum(Role, "role"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    mfa_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    reach: Mapped[str] = mapped_column(Text, default="")  # readable: what this member can see and do
    reach_details: Mapped[Any] = mapped_column(JSON, default=dict)  # permissions and visible lead count
    decision: Mapped[ReviewDecision | None] = mapped_column(_enum(ReviewDecision, "reviewdecision"), nullable=True)
    new_role: Mapped[Role | None] = mapped_column(_enum(Role, "role"), nullable=True)
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"),
                                                           nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
