"""The admin's members screen: roles, last login, MFA, and switching members off and on."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import reflex as rx

from pkcrm_app.accounts.identity import second_factor, sessions
from pkcrm_app.accounts.organisations import invitations, members
from pkcrm_app.core.authz import Actor, Permission, Role
from pkcrm_app.core.db import get_database
from pkcrm_app.ui.format import short_time
from pkcrm_app.ui.session import ActionPageMixin


@dataclass
class MemberLine:
    user_id: int = 0
    name: str = ""
    email: str = ""
    role: str = ""
    active: bool = True
    last_login: str = ""
    mfa: bool = False


@dataclass
class InviteLine:
    invitation_id: int = 0
    email: str = ""
    role: str = ""
    invited_by: str = ""
    sent: str = ""
    expires: str = ""


def _invitations(actor: Actor, tz: str) -> list[InviteLine]:
    with get_database().session() as db:
        found = invitations.list_pending(db, actor)
    return [InviteLine(invitation_id=i.id, email=i.email, role=i.role.value, invited_by=i.invited_by or "—",
                       sent=short_time(i.created_at, tz), expires=short_time(i.expires_at, tz)) for i in found]


def _invite(actor: Actor, email: str, role: str) -> None:
    with get_database().session() as db:
        invitations.invite(db, actor, email, Role(role))


def _resend(actor: Actor, invitation_id: int) -> None:
    with get_database().session() as db:
        invitations.resend(db, actor, invitation_id)


def _revoke(actor: Actor, invitation_id: int) -> None:
    with get_database().session() as db:
        invitations.revoke(db, actor, invitation_id)


def _members(actor: Actor, tz: str) -> list[MemberLine]:
    with get_database().session() as db:
        found = members.list_members(db, actor)
    return [MemberLine(user_id=m.user_id, name=m.name, email=m.email, role=m.role.value, active=m.active,
                       last_login=short_time(m.last_login_at, tz) or "never", mfa=m.mfa_enabled) for m in found]


def _set_active(actor: Actor, user_id: int, active: bool) -> None:
    with get_database().session() as db:
        members.set_member_active(db, actor, user_id, active=active)


def _change_role(actor: Actor, user_id: int, role: str) -> None:
    with get_database().session() as db:
        members.change_role(db, actor, user_id, Role(role))


def _reset_factor(actor: Actor, user_id: int) -> None:
    with get_database().session() as db:
        second_factor.reset_member_factor(db, actor, user_id)


def _sign_out(actor: Actor, user_id: int) -> int:
    with get_database().session() as db:
        return sessions.end_member_sessions(db, actor, user_id)


class MembersState(ActionPageMixin, rx.State):
    people: list[MemberLine] = []  # noqa: RUF012 (Reflex state field)
    pending: list[InviteLine] = []  # noqa: RUF012 (Reflex state field)
    invite_role: str = "agent"

    @rx.event
    async def open_page(self):  # type: ignore[no-untyped-def]
        return await self._open(Permission.MEMBERS_MANAGE)

    async def _reload(self) -> None:
        actor = (await self._tab_actor())
        if actor is not None:
            self.people = await asyncio.to_thread(_members, actor, self._tz)
            self.pending = await asyncio.to_thread(_invitations, actor, self._tz)

    @rx.var
    def can_invite_owner(self) -> bool:
        return self.role == Role.OWNER.value

    @rx.event
    def set_invite_role(self, role: str) -> None:
        self.invite_role = role

    @rx.event
    async def invite(self, form: dict[str, Any]):  # type: ignore[no-untyped-def]
        email, role = str(form.get("email", "")).strip(), self.invite_role
        if role not in {r.value for r in Role}:
            self.notice = "Choose a role."
            return None
        return await self._act(lambda actor: _invite(actor, email, role),
                               lambda _: f"Invitation sent to {email} as {role}.")

    @rx.event
    async def resend(self, invitation_id: int):  # type: ignore[no-untyped-def]
        return await self._act(lambda actor: _resend(actor, invitation_id),
                               lambda _: "Invitation sent again with a new link.")

    @rx.event
    async def revoke(self, invitation_id: int):  # type: ignore[no-untyped-def]
        return await self._act(lambda actor: _revoke(actor, invitation_id), lambda _: "Invitation revoked.")

    @rx.event
    async def set_active(self, user_id: int, active: bool):  # type: ignore[no-untyped-def]
        said = "Member reactivated." if active else "Member deactivated and signed out."
        return await self._act(lambda actor: _set_active(actor, user_id, active), lambda _: said)

    @rx.event
    async def change_role(self, user_id: int, role: str):  # type: ignore[no-untyped-def]
        return await self._act(lambda actor: _change_role(actor, user_id, role),
                               lambda _: f"Role changed to {role}; their sessions ended, so they sign in again.",
                               retry=("change_role", [user_id, role]))

    @rx.event
    async def reset_factor(self, user_id: int):  # type: ignore[no-untyped-def]
        return await self._act(lambda actor: _reset_factor(actor, user_id),
                               lambda _: "Two-factor authentication reset; the member was signed out.",
                               retry=("reset_factor", [user_id]))

    @rx.event
    async def sign_out(self, user_id: int):  # type: ignore[no-untyped-def]
        return await self._act(lambda actor: _sign_out(actor, user_id), lambda _: "Member signed out everywhere.")
