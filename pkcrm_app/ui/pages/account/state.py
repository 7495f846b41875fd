"""The signed-in user's own security: where they are signed in (and ending those sessions), and their
second factor (status, new recovery codes, turning it off)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import reflex as rx

from pkcrm_app.accounts.identity import second_factor, sessions
from pkcrm_app.core.authz import Actor
from pkcrm_app.core.db import get_database
from pkcrm_app.ui.browser import recovery_codes_script
from pkcrm_app.ui.format import short_time
from pkcrm_app.ui.session import ActionPageMixin


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


def _factor_status(actor: Actor) -> second_factor.OwnFactorStatus:
    with get_database().session() as db:
        return second_factor.own_status(db, actor)


def _turn_off(actor: Actor) -> None:
    with get_database().session() as db:
        second_factor.turn_off_own_factor(db, actor)
        db.commit()


class AccountState(ActionPageMixin, rx.State):
    devices: list[DeviceLine] = []  # noqa: RUF012 (Reflex state field)
    mfa_enabled: bool = False
    mfa_required: bool = False
    recovery_codes_left: int = 0

    @rx.event
    async def open_page(self):  # type: ignore[no-untyped-def]
        return await self._open()

    async def _reload(self) -> None:
        actor = (await self._tab_actor())
        if actor is not None:
            self.devices = await asyncio.to_thread(_devices, actor, self._cookie_token(), self._tz)
            status = await asyncio.to_thread(_factor_status, actor)
            self.mfa_enabled, self.mfa_required = status.enabled, status.required
            self.recovery_codes_left = status.recovery_codes_left

    @rx.event
    async def end_one(self, handle: str):  # type: ignore[no-untyped-def]
        return await self._act(lambda actor: _end_one(actor, handle), lambda _: "That device has been signed out.")

    @rx.event
    async def end_others(self):  # type: ignore[no-untyped-def]
        token = self._cookie_token()
        return await self._act(lambda actor: _end_others(actor, token),
                               lambda ended: f"Signed out of {ended} other session{'s' if ended != 1 else ''}.")

    @rx.event
    async def turn_off_mfa(self):  # type: ignore[no-untyped-def]
        return await self._act(_turn_off, lambda _: "Two-factor authentication is off.", retry=("turn_off_mfa", []))

    @rx.event
    def new_recovery_codes(self) -> rx.event.EventSpec:
        """The browser asks the route for new codes and shows them in the page; only the outcome comes back."""
        return rx.call_script(recovery_codes_script(), callback=AccountState.recovery_codes_answered)

    @rx.event
    async def recovery_codes_answered(self, answer: dict[str, object]) -> None:
        if isinstance(answer, dict) and answer.get("step_up"):
            self._ask_step_up(str(answer.get("error") or ""), ("new_recovery_codes", []))
        elif isinstance(answer, dict) and answer.get("shown"):
            self.notice = "New recovery codes are shown below; the old ones no longer work."
        else:
            self.notice = str(answer.get("error") if isinstance(answer, dict) else "") or "No new codes were made."
        await self._reload()
