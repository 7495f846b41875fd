"""Roles, permissions and the Actor every service call is made as.

The matrix below is the single source of truth: services call `actor.require(...)`, the README
documents it, and tests/integration/test_access_matrix.py runs every service action and HTTP route for every role.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pkcrm_app.core.errors import PermissionDenied, StepUpRequired


class Role(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MANAGER = "manager"
    AGENT = "agent"


class Permission(enum.StrEnum):
    BOARD_VIEW = "board.view"
    LEAD_MOVE = "lead.move"
    CONVERSATION_VIEW = "conversation.view"
    LEADS_VIEW_ALL = "leads.view_all"  # without it: own and unassigned leads, unless the org lets agents see all
    ANALYTICS_VIEW = "analytics.view"
    MEMBERS_MANAGE = "members.manage"
    SETTINGS_MANAGE = "settings.manage"
    INTEGRATIONS_MANAGE = "integrations.manage"
    AUDIT_VIEW = "audit.view"
    BILLING_MANAGE = "billing.manage"
    SSO_MANAGE = "sso.manage"  # who single sign-on trusts decides who can be signed in: owners only, with step-up
    ORGANISATION_DELETE = "organisation.delete"


_AGENT = frozenset({Permission.BOARD_VIEW, Permission.LEAD_MOVE, Permission.CONVERSATION_VIEW})
_MANAGER = _AGENT | {Permission.LEADS_VIEW_ALL, Permission.ANALYTICS_VIEW}
_ADMIN = _MANAGER | {Permission.MEMBERS_MANAGE, Permission.SETTINGS_MANAGE, Permission.INTEGRATIONS_MANAGE,
                     Permission.AUDIT_VIEW}
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.AGENT: _AGENT,
    Role.MANAGER: _MANAGER,
    Role.ADMIN: _ADMIN,
    Role.OWNER: _ADMIN | {Permission.BILLING_MANAGE, Permission.SSO_MANAGE, Permission.ORGANISATION_DELETE},
}


@dataclass(frozen=True)
class Actor:
    """Who is acting, in which organisation, with which role."""

    user_id: int | None
    org_id: int
    role: Role
    # True when this actor's session passed a second factor within the step-up window (set by the session layer).
    stepped_up: bool = False

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise PermissionDenied(f"your role ({self.role.value}) may not do {permission.value}")

    def require_step_up(self, permission: Permission) -> None:
        """A sensitive action: the permission, and a fresh second factor on this session."""
        self.require(permission)
        if not self.stepped_up:
            raise StepUpRequired()
