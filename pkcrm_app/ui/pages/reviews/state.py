"""The access review screen: the review under way (one line per member), its progress, and past reviews."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import reflex as rx
from sqlalchemy import select

from pkcrm_app.accounts.identity.models import Organisation
from pkcrm_app.accounts.organisations import reviews
from pkcrm_app.accounts.organisations.review_models import ReviewDecision
from pkcrm_app.core.authz import Actor, Permission
from pkcrm_app.core.db import get_database
from pkcrm_app.live import hub
from pkcrm_app.live.memo import LiveMemo
from pkcrm_app.live.state import LiveTab
from pkcrm_app.ui.format import day, short_time
from pkcrm_app.ui.session import ActionPageMixin


@dataclass
class ReviewLine:
    user_id: int = 0
    name: str = ""
    email: str = ""
    role: str = ""
    active: bool = True
    last_login: str = ""
    mfa: bool = False
    reach: str = ""
    decision: str = ""  # "" until decided: keep, change, revoke
    outcome: str = ""  # what the decision did, in words


@dataclass
class PastLine:
    review_id: int = 0
    completed: str = ""
    completed_by: str = ""
    summary: str = ""


@dataclass
class ReviewPane:
    last_review: str = "never"
    next_due: str = ""
    overdue: bool = False
    review_id: int = 0  # the open review, 0 when none
    started: str = ""
    decided: int = 0
    total: int = 0
    lines: list[ReviewLine] = field(default_factory=list)
    past: list[PastLine] = field(default_factory=list)


def _outcome(item: reviews.ReviewItem) -> str:
    if item.decision is ReviewDecision.CHANGE and item.new_role is not None:
        return f"role changed to {item.new_role.value}"
    if item.decision is ReviewDecision.REVOKE:
        return "access revoked"
    return "kept" if item.decision is ReviewDecision.KEEP else ""


# The review pane, read once per member when reviews or alerts move (live/memo.py).
PANES: LiveMemo[Actor, ReviewPane] = LiveMemo(lambda _pane: {"alerts_rev": None})


def _load(actor: Actor) -> ReviewPane:
    with get_database().session() as db:
        tz = db.scalar(select(Organisation.time_zone).where(Organisation.id == actor.org_id)) or "UTC"
        status = reviews.review_status(db, actor.org_id)
        current = reviews.open_review(db, actor)
        past = reviews.list_reviews(db, actor)
    pane = ReviewPane(last_review=day(status.last_completed_at, tz) or "never", next_due=day(status.next_due_at, tz),
                      overdue=status.overdue,
                      past=[PastLine(review_id=p.review_id, completed=day(p.completed_at, tz),
                                     completed_by=p.completed_by,
                                     summary=f"{p.members} members: {p.kept} kept, {p.changed} changed, "
                                             f"{p.revoked} revoked") for p in past])
    if current is not None:
        pane.review_id, pane.started = current.review_id, f"{day(current.started_at, tz)} by {current.started_by}"
        pane.decided, pane.total = current.decided, len(current.items)
        pane.lines = [ReviewLine(user_id=i.user_id, name=i.name, email=i.email, role=i.role.value, active=i.active,
                                 last_login=short_time(i.last_login_at, tz) or "never", mfa=i.mfa_enabled,
                                 reach=i.reach, decision=i.decision.value if i.decision else "", outcome=_outcome(i))
                      for i in current.items]
    return pane


def _start(actor: Actor) -> reviews.Review:
    with get_database().session() as db:
        return reviews.start_review(db, actor)


def _decide(actor: Actor, review_id: int, user_id: int, decision: str, role: str | None) -> reviews.ReviewItem:
    with get_database().session() as db:
        return reviews.decide(db, actor, review_id, user_id, decision, role)


def _complete(actor: Actor, review_id: int) -> reviews.Review:
    with get_database().session() as db:
        return reviews.complete_review(db, actor, review_id)


class ReviewsState(ActionPageMixin, rx.State):
    loads: int = 0  # moves after every action, so the pane is re-read even before the live push arrives

    @rx.var
    async def pane(self) -> ReviewPane:
        """Re-read when this tab acts and whenever any admin of the organisation decides (live counter)."""
        live = await self.get_state(LiveTab)
        _ = (live.alerts_rev, self.loads, self._org_id)
        actor = (await self._tab_actor())
        if actor is None or not actor.can(Permission.MEMBERS_MANAGE):
            return ReviewPane()
        return await PANES.read(actor, hub.marks_of(actor.org_id), partial(_load, actor))

    @rx.event
    async def open_page(self):  # type: ignore[no-untyped-def]
        return await self._open(Permission.MEMBERS_MANAGE)

    async def _reload(self) -> None:
        self.loads += 1

    @rx.event
    async def start(self):  # type: ignore[no-untyped-def]
        return await self._act(_start, lambda r: f"Review started: decide for each of the {len(r.items)} members.")

    @rx.event
    async def keep(self, review_id: int, user_id: int):  # type: ignore[no-untyped-def]
        return await self._act(lambda a: _decide(a, review_id, user_id, "keep", None),
                               lambda item: f"{item.name}: kept as {item.role.value}.")

    @rx.event
    async def revoke(self, review_id: int, user_id: int):  # type: ignore[no-untyped-def]
        return await self._act(lambda a: _decide(a, review_id, user_id, "revoke", None),
                               lambda item: f"{item.name}: access revoked, signed out everywhere.")

    @rx.event
    async def change(self, review_id: int, user_id: int, role: str):  # type: ignore[no-untyped-def]
        return await self._act(lambda a: _decide(a, review_id, user_id, "change", role),
                               lambda item: f"{item.name}: role changed to {role}.",
                               retry=("change", [review_id, user_id, role]))

    @rx.event
    async def complete(self, review_id: int):  # type: ignore[no-untyped-def]
        return await self._act(lambda a: _complete(a, review_id),
                               lambda r: f"Review completed and stored ({len(r.items)} members).")
