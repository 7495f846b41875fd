"""Security alerts raised to an organisation's admins (new device, failed-login bursts, export volume, a locked
or reset second factor)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from pkcrm_app.core.db import Base, utcnow


class AlertKind(enum.StrEnum):
    NEW_DEVICE = "new_device"
    FAILED_LOGINS = "failed_logins"
    EXPORT_VOLUME = "export_volume"
    MFA_LOCKED = "mfa_locked"  # too many wrong second-factor codes: the person's factor is locked for a while
    MFA_RESET = "mfa_reset"  # the person reset their own second factor by email


class SecurityAlert(Base):
    """Something unusual an admin should look at; open until an admin acknowledges it."""

    __tablename__ = "security_alert"
    # Read newest first within one organisation; detectors look up a user's recent alerts of one kind.
    __table_args__ = (Index("ix_security_alert_org_id_id", "org_id", "id"),
                      Index("ix_security_alert_user_kind", "user_id", "kind", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"))
    kind: Mapped[AlertKind] = mapped_column(
        Enum(AlertKind, name="alertkind", native_enum=False, length=20, values_callable=lambda e: [k.value for k in e])
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True)
    message: Mapped[str] = mapped_column(String(400))
    details: Mapped[Any] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    acknowledged_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"),
                                                                nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
