"""One tab's board and conversation pane: a page of cards and of messages, never whole tables."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

import reflex as rx
from reflex.vars.base import Var

from pkcrm_app.core.authz import Actor, Permission, Role
from pkcrm_app.core.db import get_database
from pkcrm_app.core.errors import DomainError
from pkcrm_app.crm import service as crm
from pkcrm_app.inbox import board as board_model
from pkcrm_app.inbox import service as inbox
from pkcrm_app.live import hub
from pkcrm_app.live.memo import LiveMemo
from pkcrm_app.ui.live_parts import LiveParts, Sent, part_key
from pkcrm_app.ui.pages.board.views import (
    BoardParts,
    CardView,
    StageHead,
    ThreadPane,
    column_views,
    thread_pane,
)
from pkcrm_app.ui.session import SessionMixin

CARDS_STEP = 12  # a tall screen's column; every open tab holds, and is re-sent, a column this long
MESSAGES_STEP = 50


# What a board part's value depends on besides the pushes: the tab's sign-in and its own view.
_BOARD_DEPS: list[str | Var[Any]] = ["cards_per_stage", "_org_id", "_role", "_user_id", "_tz", "_session_key"]
NO_BOARD = BoardParts.of([])


@dataclass(frozen=True)
class OpenThread:
    """The open conversation as the tab shows it, its conversation (None: none yet) and its key."""

    pane: ThreadPane
    conversation_id: int | None
    key: str


NO_THREAD = OpenThread(ThreadPane(), None, "")


def _load_board(actor: Actor, cards: int, tz: str) -> BoardParts:
    with get_database().session() as db:
        return BoardParts.of(column_views(board_model.board(db, actor, cards_per_stage=cards), tz))


def _load_thread(actor: Actor, lead_id: int, limit: int, tz: str) -> OpenThread:
    with get_database().session() as db:
        view = inbox.lead_thread(db, actor, lead_id, limit=limit)
    pane = thread_pane(view, tz)
    return OpenThread(pane, view.conversation_id, part_key(pane))


BoardView = tuple[int, Role, int | None, int, str]  # organisation, role, whose leads (None: all), cards, zone

# The board is read once per distinct view and change, whichever tabs show it; it depends on every lead and message.
BOARDS: LiveMemo[BoardView, BoardParts] = LiveMemo(lambda _board: {"leads_rev": None, "messages_rev": None})


def board_view(actor: Actor, cards: int, tz: str) -> BoardView:
    """Tabs with the same key see the same board: whoever sees every lead, or an agent's own view."""
    whose = None if actor.can(Permission.LEADS_VIEW_ALL) else actor.user_id
    return actor.org_id, actor.role, whose, cards, tz


# An open thread is read again only when its conversation's messages or its lead changed (or it has none yet).
THREADS: LiveMemo[tuple[Actor, int, int, str], OpenThread] = LiveMemo(lambda read: {
    "messages_rev": None if read.conversation_id is None else (read.conversation_id,),
    "leads_rev": (read.pane.lead_id,)})


def _move(actor: Actor, lead_id: int, stage_id: int) -> None:
    with get_database().session() as db:
        crm.move_lead(db, actor, lead_id, stage_id)


def _mark_read(actor: Actor, lead_id: int) -> None:
    with get_database().session() as db:
        inbox.mark_read(db, actor, lead_id)


class BoardState(LiveParts, SessionMixin, rx.State):
    LIVE_PATHS: ClassVar[frozenset[str]] = frozenset({"/", "/board"})
    PRIVATE_PARTS: ClassVar[frozenset[str]] = frozenset({"thread"})  # the reply box follows it
    cards_per_stage: int = CARDS_STEP
    selected_lead_id: int = 0
    thread_limit: int = MESSAGES_STEP
    error: str = ""
    _thread_key: str = ""  # the open thread's content as last sent: the reply box follows it

    async def _board(self) -> BoardParts:
        """The tab's board: read once per distinct view and change (the view cache), whichever tabs show it."""
        actor = await self._tab_actor()
        if actor is None:
            return NO_BOARD
        try:
            view = board_view(actor, self.cards_per_stage, self._tz)
            load = partial(_load_board, actor, self.cards_per_stage, self._tz)
            return await BOARDS.read(view, hub.marks_of(actor.org_id), load)
        except DomainError:  # e.g. the organisation was just deleted: the signed-out notice covers the page
            return NO_BOARD

    async def _thread(self) -> OpenThread:
        actor = await self._tab_actor()
        if actor is None or not self.selected_lead_id:
            return NO_THREAD
        view = (actor, self.selected_lead_id, self.thread_limit, self._tz)
        try:
            return await THREADS.read(view, hub.marks_of(actor.org_id), partial(_load_thread, *view))
        except DomainError:
            return NO_THREAD

    async def _part_keys(self) -> dict[str, str]:
        return {**(await self._board()).keys, "thread": (await self._thread()).key}

    async def _live_refresh(self, *, everything: bool = False) -> Sent:
        sent = await super()._live_refresh(everything=everything)
        thread_key = self.get_value("_sent_keys").get("thread", "")
        if self._thread_key != thread_key:
            self._thread_key = thread_key
        return sent

    # The board goes to the browser in parts, each sent again only when its content changed (ui/live_parts.py):
    # the column headers, and each column's cards. A new message sends the cards of its lead's column (and the
    # headers when a count moved), not the board. Each part is also recomputed when the tab's own view changes.
    @rx.var(deps=_BOARD_DEPS, auto_deps=False)
    async def stages(self) -> list[StageHead]:
        """The columns' names, counts and totals."""
        return (await self._board()).heads

    @rx.var(deps=_BOARD_DEPS, auto_deps=False)
    async def cards_0(self) -> list[CardView]:
        return (await self._board()).cards_of(0)

    @rx.var(deps=_BOARD_DEPS, auto_deps=False)
    async def cards_1(self) -> list[CardView]:
        return (await self._board()).cards_of(1)

    @rx.var(deps=_BOARD_DEPS, auto_deps=False)
    async def cards_2(self) -> list[CardView]:
        return (await self._board()).cards_of(2)

    @rx.var(deps=_BOARD_DEPS, auto_deps=False)
    async def cards_3(self) -> list[CardView]:
        return (await self._board()).cards_of(3)

    @rx.var(deps=_BOARD_DEPS, auto_deps=False)
    async def cards_4(self) -> list[CardView]:
        return (await self._board()).cards_of(4)

    @rx.var(deps=_BOARD_DEPS, auto_deps=False)
    async def cards_5(self) -> list[CardView]:
        return (await self._board()).cards_of(5)

    @rx.var(deps=_BOARD_DEPS, auto_deps=False)
    async def cards_6(self) -> list[CardView]:
        return (await self._board()).cards_of(6)

    @rx.var(deps=_BOARD_DEPS, auto_deps=False)
    async def cards_7(self) -> list[CardView]:
        return (await self._board()).cards_of(7)

    @rx.var(deps=_BOARD_DEPS, auto_deps=False)
    async def cards_8(self) -> list[CardView]:
        return (await self._board()).cards_of(8)

    @rx.var(deps=_BOARD_DEPS, auto_deps=False)
    async def cards_9(self) -> list[CardView]:
        return (await self._board()).cards_of(9)

    @rx.var(deps=_BOARD_DEPS, auto_deps=False)
    async def cards_10(self) -> list[CardView]:
        return (await self._board()).cards_of(10)

    @rx.var(deps=_BOARD_DEPS, auto_deps=False)
    async def cards_11(self) -> list[CardView]:
        return (await self._board()).cards_of(11)

    @rx.var(deps=[*_BOARD_DEPS, "selected_lead_id", "thread_limit"], auto_deps=False)
    async def thread(self) -> ThreadPane:
        """The open conversation; sent again when its messages or its lead changed, or another one opens."""
        return (await self._thread()).pane

    @rx.event
    async def open_board(self):  # type: ignore[no-untyped-def]
        """on_load of the board: sign in, and bring back what changed while the tab showed another page."""
        redirect = await self._sign_in()
        if redirect is None:
            await self._live_refresh()
        return redirect

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
