"""Recording audit events (the caller's transaction commits them with the change they describe)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from pkcrm_app.audit.models import AuditEvent


def record(
    db: Session,
    *,
    action: str,
    org_id: int | None,
    actor_user_id: int | None = None,
    target_type: str = "",
    target_id: str | int = "",
    details: dict[str, Any] | None = None,
    ip_address: str = "",
) -> AuditEvent:
    """Append one audit event to the current transaction."""
    event = AuditEvent(
        org_id=org_id, actor_user_id=actor_user_id, action=action, target_type=target_type,
        target_id=str(target_id), details=details or {}, ip_address=ip_address,
    )
    db.add(event)
    return event
