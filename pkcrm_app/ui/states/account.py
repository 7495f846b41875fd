"""The signed-in user's own devices: where they are signed in, and ending those sessions."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import reflex as rx

from pkcrm_app.accounts import sessions
from pkcrm_app.accounts.permissions import Actor
from pkcrm_app.core.db import get_database
from pkcrm_app.ui.states.session import ActionPageMixin
from pkcrm_app.ui.states.views import short_time


@dataclass
class DeviceLine:
    handle: str = ""
    device: str = ""
    ip_address: str = ""
    screen: str = ""
    language: str = ""
    signed_in: str = ""
    last_active: str = ""
    current: bool = False


def _devices(actor: Actor, token: str | None, tz: str) -> list[DeviceLine]:
    with get_database().session() as db:
        found = sessions.my_sessions(db, actor, token)
    return [DeviceLine(handle=s.handle, device=f"{s.browser} on {s.operating_system}", ip_address=s.ip_address,
                       screen=s.screen, language=s.language, signed_in=short_time(s.created_at, tz),
                       last_active=short_time(s.last_seen_at, tz), current=s.current) for s in found]


def _end_one(actor: Actor, handle: str) -> None:
    with get_database().session() as db:
        sessions.end_session(db, actor, handle)


def _end_others(actor: Actor, token: str | None) -> int:
    with get_database().session() as db:
        return sessions.end_other_sessions(db, actor, token)


class AccountState(ActionPageMixin, rx.State):
    devices: list[DeviceLine] = []  # noqa: RUF012 (Reflex state field)

    @rx.event
    async def open_page(self):  # type: ignore[no-untyped-def]
        redirect = await self._sign_in()
        if redirect is not None:
            return redirect
        self.notice = ""
        await self._reload()
        return None

    async def _reload(self) -> None:
        actor = self.actor()
        if actor is not None:
            self.devices = await asyncio.to_thread(_devices, actor, self._cookie_token(), self._tz)

    @rx.event
    async def end_one(self, handle: str):  # type: ignore[no-untyped-def]
        return await self._act(lambda actor: _end_one(actor, handle), lambda _: "That device has been signed out.")

    @rx.event
    async def end_others(self):  # type: ignore[no-untyped-def]
        token = self._cookie_token()
        return await self._act(lambda actor: _end_others(actor, token),
                               lambda ended: f"Signed out of {ended} other session{'s' if ended != 1 else ''}.")
