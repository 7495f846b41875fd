"""The organisation settings screen: name, time zone, two-factor policy, what agents see, review cadence."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from functools import cache
from zoneinfo import available_timezones

import reflex as rx

from pkcrm_app.accounts.organisations import settings as org_settings
from pkcrm_app.core.authz import Actor, Permission
from pkcrm_app.core.db import get_database
from pkcrm_app.flows import organisation_deletion
from pkcrm_app.ui.session import ActionPageMixin


@cache
def time_zones() -> list[str]:
    return ["UTC", *sorted(zone for zone in available_timezones() if "/" in zone and not zone.startswith("Etc/"))]


def _read(actor: Actor) -> org_settings.OrganisationSettings:
    with get_database().session() as db:
        return org_settings.read_settings(db, actor)


def _save(actor: Actor, form: dict[str, str]) -> int:
    with get_database().session() as db:
        current = org_settings.read_settings(db, actor)
        try:
            interval = int(form.get("access_review_interval_days") or current.access_review_interval_days)
        except ValueError:
            interval = -1  # refused by the service with its own message
        wanted = replace(current, name=form.get("name", current.name), time_zone=form.get("time_zone", ""),
                         mfa_policy=form.get("mfa_policy", ""), agents_see_all=form.get("agents_see_all") == "on",
                         access_review_interval_days=interval)
        changed = org_settings.update_settings(db, actor, wanted)
        db.commit()
        return changed


def _delete(actor: Actor, confirm_name: str) -> None:
    with get_database().session() as db:
        organisation_deletion.delete_organisation(db, actor, confirm_name=confirm_name)


class SettingsState(ActionPageMixin, rx.State):
    name: str = ""
    time_zone: str = "UTC"
    mfa_policy: str = "off"
    agents_see_all: bool = False
    review_interval: str = "90"
    form_version: int = 0  # the form is re-mounted with the stored values after every save
    _deleted: bool = False

    @rx.event
    async def open_page(self):  # type: ignore[no-untyped-def]
        return await self._open(Permission.SETTINGS_MANAGE)

    async def _reload(self) -> None:
        actor = (await self._tab_actor())
        if actor is None:
            return
        current = await asyncio.to_thread(_read, actor)
        self.name, self.time_zone, self.mfa_policy = current.name, current.time_zone, current.mfa_policy
        self.agents_see_all, self.review_interval = current.agents_see_all, str(current.access_review_interval_days)
        self.form_version += 1

    @rx.event
    async def save(self, form: dict[str, str]):  # type: ignore[no-untyped-def]
        return await self._act(lambda actor: _save(actor, form),
                               lambda n: f"Saved: {n} setting{'s' if n != 1 else ''} changed." if n else
                               "Nothing changed.")

    @rx.var
    def can_delete_organisation(self) -> bool:
        return self.role == "owner"

    @rx.event
    def delete_organisation(self, form: dict[str, str]) -> rx.event.EventSpec:
        return SettingsState.delete_named(str(form.get("confirm_name", "")))

    @rx.event
    async def delete_named(self, confirm_name: str):  # type: ignore[no-untyped-def]
        """Delete the organisation (owner, step-up, its name typed); the owner lands on the login page."""

        def done(_: None) -> str:
            self._deleted = True
            return "The organisation was deleted."

        outcome = await self._act(lambda actor: _delete(actor, confirm_name), done,
                                  retry=("delete_named", [confirm_name]))
        if self._deleted:
            self._deleted = False
            return rx.redirect("/login?error=deleted")
        return outcome
