"""What a member can reach, in words an access reviewer reads: their permissions and how many leads they see."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity.models import Organisation
from pkcrm_app.core.authz import ROLE_PERMISSIONS, Actor, Permission, Role

# (leads the member sees, leads of the organisation): crm knows leads, so flows/registry.py hands this in.
LeadCounter = Callable[[Session, Actor], tuple[int, int]]
_lead_counter: list[LeadCounter] = []


def count_leads_with(counter: LeadCounter) -> None:
    """Called once by flows/registry.py: how a member's visible leads are counted."""
    _lead_counter[:] = [counter]

# Everyone with a role works the board and conversations; the rest is what sets one role apart.
_EXTRAS = (
    (Permission.ANALYTICS_VIEW, "analytics"),
    (Permission.MEMBERS_MANAGE, "members"),
    (Permission.SETTINGS_MANAGE, "settings"),
    (Permission.INTEGRATIONS_MANAGE, "integrations"),
    (Permission.AUDIT_VIEW, "audit log"),
    (Permission.BILLING_MANAGE, "billing"),
    (Permission.SSO_MANAGE, "single sign-on settings"),
    (Permission.ORGANISATION_DELETE, "deleting the organisation"),
)


def member_reach(db: Session, *, org_id: int, user_id: int, role: Role, active: bool) -> tuple[str, dict[str, Any]]:
    """('Leads: own and unassigned (3 of 12); board, conversations', {...}) for one member as they stand now."""
    as_member = Actor(user_id=user_id, org_id=org_id, role=role)
    if not _lead_counter:
        raise RuntimeError("no lead counter: call pkcrm_app.flows.registry.install() at start-up")
    visible, total = _lead_counter[0](db, as_member)
    sees_all = as_member.can(Permission.LEADS_VIEW_ALL) or bool(
        db.scalar(select(Organisation.agents_see_all).where(Organisation.id == org_id)))
    leads = f"all {total} leads" if sees_all else f"own and unassigned leads ({visible} of {total})"
    extras = [label for permission, label in _EXTRAS if as_member.can(permission)]
    text = f"{leads}; board, conversations" + (f", {', '.join(extras)}" if extras else "")
    if not active:
        text = f"no access (deactivated); the role would give {text}"
    details = {"permissions": sorted(p.value for p in ROLE_PERMISSIONS[role]), "sees_all_leads": sees_all,
               "leads_visible": visible, "leads_total": total, "active": active}
    return text[0].upper() + text[1:], details
