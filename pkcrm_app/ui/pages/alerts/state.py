"""The security alerts screen: newest first, a page at a time, each acknowledged by an admin."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import reflex as rx
from sqlalchemy import select

from pkcrm_app.accounts.identity.models import Organisation
from pkcrm_app.accounts.security import alerts
from pkcrm_app.core.authz import Actor
from pkcrm_app.core.db import get_database
from pkcrm_app.live import hub
from pkcrm_app.live.memo import LiveMemo
from pkcrm_app.live.state import LiveTab
from pkcrm_app.ui.badges import sees_alerts
from pkcrm_app.ui.format import day_and_time
from pkcrm_app.ui.session import ActionPageMixin

PAGE_SIZE = 25


@dataclass
class AlertLine:
    alert_id: int = 0
    kind: str = ""
    when: str = ""
    message: str = ""
    acknowledged: bool = False
    acknowledged_by: str = ""


@dataclass
class AlertsPane:
    lines: list[AlertLine] = field(default_factory=list)
    total: int = 0
    pages: int = 1


# A page of alerts, read once per member and page when alerts move (live/memo.py).
PANES: LiveMemo[tuple[Actor, int], AlertsPane] = LiveMemo(lambda _pane: {"alerts_rev": None})


def _load(actor: Actor, page: int) -> AlertsPane:
    with get_database().session() as db:
        tz = db.scalar(select(Organisation.time_zone).where(Organisation.id == actor.org_id)) or "UTC"
        found, total = alerts.list_alerts(db, actor, page=page, page_size=PAGE_SIZE)
    lines = [AlertLine(alert_id=a.alert_id, kind=a.kind.value, when=day_and_time(a.created_at, tz), message=a.message,
                       acknowledged=a.acknowledged_at is not None, acknowledged_by=a.acknowledged_by) for a in found]
    return AlertsPane(lines=lines, total=total, pages=max(1, -(-total // PAGE_SIZE)))


def _acknowledge(actor: Actor, alert_id: int) -> None:
    with get_database().session() as db:
        alerts.acknowledge(db, actor, alert_id)


class AlertsState(ActionPageMixin, rx.State):
    page: int = 1
    loads: int = 0

    @rx.var
    async def pane(self) -> AlertsPane:
        """Re-read whenever an alert of the organisation is raised or acknowledged (live counter)."""
        live = await self.get_state(LiveTab)
        _ = (live.alerts_rev, self.loads, self.page, self._org_id)
        actor = (await self._tab_actor())
        if not sees_alerts(actor) or actor is None:
            return AlertsPane()
        return await PANES.read((actor, self.page), hub.marks_of(actor.org_id), partial(_load, actor, self.page))

    @rx.event
    async def open_page(self):  # type: ignore[no-untyped-def]
        redirect = await self._sign_in()
        if redirect is not None:
            return redirect
        if not sees_alerts(await self._tab_actor()):
            return rx.redirect("/board")
        self.notice, self.page = "", 1
        await self._reload()
        return None

    async def _reload(self) -> None:
        self.loads += 1

    @rx.event
    async def acknowledge(self, alert_id: int):  # type: ignore[no-untyped-def]
        return await self._act(lambda a: _acknowledge(a, alert_id), lambda _: "Alert acknowledged.")

    @rx.event
    def older(self) -> None:
        self.page += 1

    @rx.event
    def newer(self) -> None:
        self.page = max(1, self.page - 1)
