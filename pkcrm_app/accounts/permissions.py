"""Roles, permissions and the Actor every service call is made as."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pkcrm_app.core.errors import PermissionDenied


class Role(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MANAGER = "manager"
    AGENT = "agent"


class Permission(enum.StrEnum):
    BOARD_VIEW = "board.view"
    LEAD_MOVE = "lead.move"
    CONVERSATION_VIEW = "conversation.view"
    AUDIT_VIEW = "audit.view"


_EVERYONE = frozenset({Permission.BOARD_VIEW, Permission.LEAD_MOVE, Permission.CONVERSATION_VIEW})
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.AGENT: _EVERYONE,
    Role.MANAGER: _EVERYONE,
    Role.ADMIN: _EVERYONE | {Permission.AUDIT_VIEW},
    Role.OWNER: _EVERYONE | {Permission.AUDIT_VIEW},
}


@dataclass(frozen=True)
class Actor:
    """Who is acting, in which organisation, with which role."""

    user_id: int | None
    org_id: int
    role: Role

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise PermissionDenied(f"your role ({self.role.value}) may not do {permission.value}")
