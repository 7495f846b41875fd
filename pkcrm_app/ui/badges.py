"""What the top bar tells admins on every page: unacknowledged security alerts, an overdue access review."""

from __future__ import annotations

from pkcrm_app.accounts.organisations.reviews import review_status
from pkcrm_app.accounts.security.alerts import unacknowledged_count
from pkcrm_app.core.authz import Actor, Permission
from pkcrm_app.core.db import get_database

ALERT_READERS = (Permission.AUDIT_VIEW, Permission.MEMBERS_MANAGE)  # either one shows the bell and the alerts page


def sees_alerts(actor: Actor | None) -> bool:
    return actor is not None and any(actor.can(permission) for permission in ALERT_READERS)


def open_alerts(actor: Actor | None) -> int:
    """The number on the bell; 0 for members who do not see alerts."""
    if actor is None or not sees_alerts(actor):
        return 0
    with get_database().session() as db:
        return unacknowledged_count(db, actor)


def review_overdue(actor: Actor | None) -> bool:
    """Whether the 'access review overdue' badge shows (admins who run reviews only)."""
    if actor is None or not actor.can(Permission.MEMBERS_MANAGE):
        return False
    with get_database().session() as db:
        return review_status(db, actor.org_id).overdue
