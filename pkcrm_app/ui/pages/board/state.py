"""One tab's board and conversation pane: a page of cards and of messages, never whole tables."""

from __future__ import annotations

import asyncio
from functools import partial

import reflex as rx

from pkcrm_app.core.authz import Actor, Permission, Role
from pkcrm_app.core.db import get_database
from pkcrm_app.core.errors import DomainError
from pkcrm_app.crm import service as crm
from pkcrm_app.inbox import board as board_model
from pkcrm_app.inbox import service as inbox
from pkcrm_app.live import hub
from pkcrm_app.live.memo import LiveMemo
from pkcrm_app.live.state import LiveTab
from pkcrm_app.ui.pages.board.views import (
    CardView,
    ColumnView,
    StageHead,
    ThreadPane,
    column_views,
    stage_heads,
    thread_pane,
)
from pkcrm_app.ui.session import SessionMixin

CARDS_STEP = 20
MESSAGES_STEP = 50


def _load_columns(actor: Actor, cards: int, tz: str) -> list[ColumnView]:
    with get_database().session() as db:
        return column_views(board_model.board(db, actor, cards_per_stage=cards), tz)


def _load_thread(actor: Actor, lead_id: int, limit: int, tz: str) -> tuple[ThreadPane, int | None]:
    with get_database().session() as db:
        view = inbox.lead_thread(db, actor, lead_id, limit=limit)
    return thread_pane(view, tz), view.conversation_id


BoardView = tuple[int, Role, int | None, int, str]  # organisation, role, whose leads (None: all), cards, zone

# The board is read once per distinct view and change, whichever tabs show it; it depends on every lead and message.
BOARDS: LiveMemo[BoardView, list[ColumnView]] = LiveMemo(lambda _columns: {"leads_rev": None, "messages_rev": None})


def board_view(actor: Actor, cards: int, tz: str) -> BoardView:
    """Tabs with the same key see the same board: whoever sees every lead, or an agent's own view."""
    whose = None if actor.can(Permission.LEADS_VIEW_ALL) else actor.user_id
    return actor.org_id, actor.role, whose, cards, tz


# An open thread is read again only when its conversation's messages or its lead changed (or it has none yet).
THREADS: LiveMemo[tuple[Actor, int, int, str], tuple[ThreadPane, int | None]] = LiveMemo(
    lambda read: {"messages_rev": None if read[1] is None else (read[1],), "leads_rev": (read[0].lead_id,)})


def _move(actor: Actor, lead_id: int, stage_id: int) -> None:
    with get_database().session() as db:
        crm.move_lead(db, actor, lead_id, stage_id)


def _mark_read(actor: Actor, lead_id: int) -> None:
    with get_database().session() as db:
        inbox.mark_read(db, actor, lead_id)


class BoardState(SessionMixin, rx.State):
    cards_per_stage: int = CARDS_STEP
    selected_lead_id: int = 0
    thread_limit: int = MESSAGES_STEP
    error: str = ""

    async def _board_columns(self) -> list[ColumnView]:
        """The tab's board: read once per distinct view and change (the view cache), whichever tabs show it."""
        live = await self.get_state(LiveTab)
        _ = (live.leads_rev, live.messages_rev, self._org_id)
        actor = (await self._tab_actor())
        if actor is None:
            return []
        try:
            view = board_view(actor, self.cards_per_stage, self._tz)
            load = partial(_load_columns, actor, self.cards_per_stage, self._tz)
            return await BOARDS.read(view, hub.marks_of(actor.org_id), load)
        except DomainError:  # e.g. the organisation was just deleted: the signed-out notice covers the page
            return []

    # The board goes to the browser in parts, each re-sent only when it changed (Reflex compares what it sends of
    # an uncached var with what the tab has): the column headers, and each column's cards. A new message sends
    # the cards of its lead's column (and the headers when a count moved), not the board.
    @rx.var(cache=False)
    async def stages(self) -> list[StageHead]:
        """The columns' names, counts and totals."""
        return stage_heads(await self._board_columns())

    @rx.var(cache=False)
    async def cards_0(self) -> list[CardView]:
        return await self._cards_of(0)

    @rx.var(cache=False)
    async def cards_1(self) -> list[CardView]:
        return await self._cards_of(1)

    @rx.var(cache=False)
    async def cards_2(self) -> list[CardView]:
        return await self._cards_of(2)

    @rx.var(cache=False)
    async def cards_3(self) -> list[CardView]:
        return await self._cards_of(3)

    @rx.var(cache=False)
    async def cards_4(self) -> list[CardView]:
        return await self._cards_of(4)

    @rx.var(cache=False)
    async def cards_5(self) -> list[CardView]:
        return await self._cards_of(5)

    @rx.var(cache=False)
    async def cards_6(self) -> list[CardView]:
        return await self._cards_of(6)

    @rx.var(cache=False)
    async def cards_7(self) -> list[CardView]:
        return await self._cards_of(7)

    @rx.var(cache=False)
    async def cards_8(self) -> list[CardView]:
        return await self._cards_of(8)

    @rx.var(cache=False)
    async def cards_9(self) -> list[CardView]:
        return await self._cards_of(9)

    @rx.var(cache=False)
    async def cards_10(self) -> list[CardView]:
        return await self._cards_of(10)

    @rx.var(cache=False)
    async def cards_11(self) -> list[CardView]:
        return await self._cards_of(11)

    async def _cards_of(self, index: int) -> list[CardView]:
        columns = await self._board_columns()
        return columns[index].cards if index < len(columns) else []

    @rx.var
    async def thread(self) -> ThreadPane:
        """Recomputed on every lead or message change; read again only when the change concerns this thread."""
        live = await self.get_state(LiveTab)
        _ = (live.leads_rev, live.messages_rev, self._org_id)
        actor = (await self._tab_actor())
        if actor is None or not self.selected_lead_id:
            return ThreadPane()
        view = (actor, self.selected_lead_id, self.thread_limit, self._tz)
        try:
            return (await THREADS.read(view, hub.marks_of(actor.org_id), partial(_load_thread, *view)))[0]
        except DomainError:
            return ThreadPane()

    @rx.event
    async def open_lead(self, lead_id: int):  # type: ignore[no-untyped-def]
        actor = await self._active_actor()
        if actor is None:
            return rx.redirect("/login")
        self.selected_lead_id, self.thread_limit, self.error = lead_id, MESSAGES_STEP, ""
        await asyncio.to_thread(_mark_read, actor, lead_id)
        return None

    @rx.event
    async def close_lead(self) -> None:
        """What arrived while the conversation was open has been seen: clear its badge everywhere."""
        actor, lead_id = (await self._tab_actor()), self.selected_lead_id
        self.selected_lead_id = 0
        if actor is not None and lead_id:
            await asyncio.to_thread(_mark_read, actor, lead_id)

    @rx.event
    async def move_lead(self, lead_id: int, stage_id: str):  # type: ignore[no-untyped-def]
        actor = await self._active_actor()
        if actor is None:
            return rx.redirect("/login")
        try:
            with self._acting():
                await asyncio.to_thread(_move, actor, int(lead_id), int(stage_id))
            self.error = ""
        except DomainError as exc:
            self.error = str(exc)
        except ValueError:  # a stage id that is not a number: say so in fixed words, never the exception's
            self.error = "That stage does not exist."
        return None

    @rx.event
    def show_more_cards(self) -> None:
        self.cards_per_stage += CARDS_STEP

    @rx.event
    def load_earlier(self) -> None:
        self.thread_limit += MESSAGES_STEP
