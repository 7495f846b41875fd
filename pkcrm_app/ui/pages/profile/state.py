"""The signed-in user's own profile; the password form posts to /auth/password, never through this state."""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx

from pkcrm_app.accounts.identity import outcomes, profile
from pkcrm_app.core.authz import Actor
from pkcrm_app.core.db import get_database
from pkcrm_app.ui.session import ActionPageMixin


def _load(actor: Actor) -> profile.Profile:
    with get_database().session() as db:
        return profile.get_profile(db, actor)


def _save(actor: Actor, values: dict[str, str]) -> profile.Profile:
    with get_database().session() as db:
        return profile.update_profile(db, actor, name=values["name"], phone=values["phone"],
                                      language=values["language"], time_zone=values["time_zone"])


class ProfileState(ActionPageMixin, rx.State):
    email: str = ""
    name: str = ""
    phone: str = ""
    language: str = "en"
    time_zone: str = ""
    org_time_zone: str = "UTC"
    password_notice: str = ""
    password_error: str = ""

    @rx.event
    async def open_page(self):  # type: ignore[no-untyped-def]
        redirect = await self._sign_in()
        if redirect is not None:
            return redirect
        query = self.router.url.query_parameters
        self.notice = ""
        self.password_error = outcomes.message_for(query.get("error", ""))  # a code, never the address's text
        ended = query.get("ended", "0")
        self.password_notice = "" if query.get("done") != "password" else (
            "Password changed." + (f" {ended} other session(s) were signed out." if ended not in ("", "0") else ""))
        await self._reload()
        return None

    async def _reload(self) -> None:
        actor = (await self._tab_actor())
        if actor is not None:
            self._show(await asyncio.to_thread(_load, actor))

    def _show(self, found: profile.Profile) -> None:
        self.email, self.name, self.phone = found.email, found.name, found.phone
        self.language, self.time_zone, self.org_time_zone = found.language, found.time_zone, found.org_time_zone

    @rx.event
    def set_language(self, value: str) -> None:
        self.language = value

    @rx.event
    def set_time_zone(self, value: str) -> None:
        self.time_zone = "" if value == "org" else value

    @rx.event
    async def save(self, form: dict[str, Any]):  # type: ignore[no-untyped-def]
        values = {"name": str(form.get("name", "")), "phone": str(form.get("phone", "")),
                  "language": self.language, "time_zone": self.time_zone}
        self.name, self.phone = values["name"], values["phone"]
        return await self._act(lambda actor: _save(actor, values), lambda _: "Profile saved.")
