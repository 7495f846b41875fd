"""The admin's members screen: roles, last login, MFA, and switching members off and on."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import reflex as rx

from pkcrm_app.accounts import members, sessions
from pkcrm_app.accounts.permissions import Actor, Permission
from pkcrm_app.core.db import get_database
from pkcrm_app.ui.states.session import ActionPageMixin
from pkcrm_app.ui.states.views import short_time


@dataclass
class MemberLine:
    user_id: int = 0
    name: str = ""
    email: str = ""
    role: str = ""
    active: bool = True
    last_login: str = ""
    mfa: bool = False


def _members(actor: Actor, tz: str) -> list[MemberLine]:
    with get_database().session() as db:
        found = members.list_members(db, actor)
    return [MemberLine(user_id=m.user_id, name=m.name, email=m.email, role=m.role.value, active=m.active,
                       last_login=short_time(m.last_login_at, tz) or "never", mfa=m.mfa_enabled) for m in found]


def _set_active(actor: Actor, user_id: int, active: bool) -> None:
    with get_database().session() as db:
        members.set_member_active(db, actor, user_id, active=active)


def _sign_out(actor: Actor, user_id: int) -> int:
    with get_database().session() as db:
        return sessions.end_member_sessions(db, actor, user_id)


class MembersState(ActionPageMixin, rx.State):
    people: list[MemberLine] = []  # noqa: RUF012 (Reflex state field)

    @rx.event
    async def open_page(self):  # type: ignore[no-untyped-def]
        redirect = await self._sign_in(needs=Permission.MEMBERS_MANAGE)
        if redirect is not None:
            return redirect
        self.notice = ""
        await self._reload()
        return None

    async def _reload(self) -> None:
        actor = self.actor()
        if actor is not None:
            self.people = await asyncio.to_thread(_members, actor, self._tz)

    @rx.event
    async def set_active(self, user_id: int, active: bool):  # type: ignore[no-untyped-def]
        said = "Member reactivated." if active else "Member deactivated and signed out."
        return await self._act(lambda actor: _set_active(actor, user_id, active), lambda _: said)

    @rx.event
    async def sign_out(self, user_id: int):  # type: ignore[no-untyped-def]
        return await self._act(lambda actor: _sign_out(actor, user_id), lambda _: "Member signed out everywhere.")
