"""The admin's audit log screen: filters and one page of events."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

import reflex as rx

from pkcrm_app.accounts.security.audit_log import AuditFilter, list_events
from pkcrm_app.core.authz import Actor, Permission
from pkcrm_app.core.db import get_database
from pkcrm_app.core.errors import StepUpRequired
from pkcrm_app.ui.format import short_time
from pkcrm_app.ui.session import ActionPageMixin

PAGE_SIZE = 50


@dataclass
class AuditLine:
    event_id: int = 0
    when: str = ""
    actor: str = ""
    action: str = ""
    target: str = ""
    ip_address: str = ""
    details: str = ""


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _load(actor: Actor, flt: AuditFilter, page: int, tz: str) -> tuple[list[AuditLine], int]:
    with get_database().session() as db:
        rows, total = list_events(db, actor, flt, page=page, page_size=PAGE_SIZE)
    return [AuditLine(event_id=r.event_id, when=f"{r.created_at:%Y-%m-%d} {short_time(r.created_at, tz)}",
                      actor=r.actor, action=r.action, target=r.target, ip_address=r.ip_address,
                      details=r.details[:160]) for r in rows], total


class AuditState(ActionPageMixin, rx.State):
    action: str = ""
    actor_email: str = ""
    since: str = ""
    until: str = ""
    page: int = 1
    total: int = 0
    lines: list[AuditLine] = []  # noqa: RUF012 (Reflex state field)

    @rx.event
    async def open_page(self):  # type: ignore[no-untyped-def]
        """on_load: signed in, and allowed to read the audit log, else back to the board."""
        redirect = await self._sign_in(needs=Permission.AUDIT_VIEW)
        if redirect is not None:
            return redirect
        await self._refresh()
        return None

    def _filter(self) -> AuditFilter:
        return AuditFilter(action=self.action, actor_email=self.actor_email, since=_day(self.since),
                           until=_day(self.until))

    async def _refresh(self) -> None:
        actor = (await self._tab_actor())
        if actor is not None:
            self.lines, self.total = await asyncio.to_thread(_load, actor, self._filter(), self.page, self._tz)

    @rx.event
    async def apply(self, form: dict[str, str]) -> None:
        self.action, self.actor_email = form.get("action", ""), form.get("actor", "")
        self.since, self.until, self.page = form.get("since", ""), form.get("until", ""), 1
        await self._refresh()

    @rx.event
    async def turn(self, delta: int) -> None:
        self.page = max(1, self.page + delta)
        await self._refresh()

    @rx.var
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    def _export_url(self) -> str:
        query = {"action": self.action, "actor": self.actor_email, "since": self.since, "until": self.until}
        return "/audit/export.csv?" + urlencode({k: v for k, v in query.items() if v})

    @rx.event
    async def export(self):  # type: ignore[no-untyped-def]
        """A data export: with a fresh second factor the browser downloads the CSV, else the step-up dialog opens."""
        actor = await self._active_actor()
        if actor is None:
            return rx.redirect("/login")
        if not actor.stepped_up:
            self._ask_step_up(str(StepUpRequired()), ("export", []))
            return None
        return rx.call_script(f"window.location.assign({json.dumps(self._export_url())})")
