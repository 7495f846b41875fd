"""A push updates every open tab, but a tab reads again only what the change concerns and gets only the parts of
its page whose content moved: a message for another conversation leaves the open thread and the reply box's
templates as they are (issue 10, point 6); a new message sends its lead's column, not the board (issue 19).

Drives real tab state trees as the live bridge does: real services commit, their events go through the bridge's
table into the worker's marks, and `refresh_tab` updates each tab; the delta is what the tab would be sent."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import reflex as rx
from reflex.istate.data import ReflexURL, RouterData, SessionData

from pkcrm_app.channels.whatsapp import templates
from pkcrm_app.channels.whatsapp.webhook import parse_envelope
from pkcrm_app.core.authz import Actor
from pkcrm_app.core.db import Database
from pkcrm_app.core.events import DomainEvent, subscribe, unsubscribe
from pkcrm_app.crm import service as crm
from pkcrm_app.flows.webhook_delivery import ingest
from pkcrm_app.inbox import board as board_model
from pkcrm_app.inbox import service as inbox
from pkcrm_app.live import hub
from pkcrm_app.live import sessions as live_sessions
from pkcrm_app.live.bridge import changes_by_org
from pkcrm_app.live.state import Counter, LiveTab
from pkcrm_app.ui.live_parts import refresh_tab
from pkcrm_app.ui.pages.board import reply_state as reply
from pkcrm_app.ui.pages.board import state as board
from pkcrm_app.ui.pages.board.views import ThreadPane
from tests.support.outbox import Shop, add_lead, make_shop
from tests.support.webhooks import change, envelope, text_message

OPEN, OTHER = "923001110001", "923001110002"
BOARD_VARS = {"stages", *(f"cards_{i}" for i in range(12))}


class Tab:
    """One browser tab's state tree, signed in as `actor`, showing `path` with `lead_id` open (0: none)."""

    def __init__(self, actor: Actor, lead_id: int = 0, path: str = "/board") -> None:
        self.root = rx.State(_reflex_internal_init=True)  # type: ignore[call-arg]
        self.root.router = RouterData(session=SessionData(client_token=str(uuid.uuid4())),
                                      url=ReflexURL(f"http://localhost:3000{path}"))
        self.board = self._substate(board.BoardState)
        self.reply = self._substate(reply.ReplyState)
        self.live = self._substate(LiveTab)
        self.board._user_id, self.board._org_id, self.board._role = actor.user_id, actor.org_id, actor.role.value
        self.board._tz, self.board._session_key, self.live._org_id = "UTC", "session-of-the-test", actor.org_id
        self.board.selected_lead_id = lead_id
        self.hydrate()

    def _substate(self, cls: type[rx.State]) -> Any:
        return self.root.get_substate(cls.get_full_name().split("."))

    def _delta(self) -> dict[str, Any]:
        delta = asyncio.run(self.root._get_resolved_delta())
        self.root._clean()
        return {key.split(".")[-1]: values for key, values in delta.items()}

    def hydrate(self) -> dict[str, Any]:
        """The tab (re)connects: everything it shows, read afresh."""
        asyncio.run(refresh_tab(self.root, everything=True))
        return self._delta()

    def push(self, moved: tuple[Counter, ...]) -> dict[str, dict[str, Any]]:
        """A push reaches the tab: what it is sent, by state (short names) and var (field marker dropped)."""
        self.shared = asyncio.run(refresh_tab(self.root, moved))
        return {state: {var.removesuffix("_rx_state_"): value for var, value in values.items()}
                for state, values in self._delta().items()}

    def sent(self, moved: tuple[Counter, ...]) -> set[str]:
        """The page vars a push sends this tab (the live counters themselves left out)."""
        return {var for state, values in self.push(moved).items() if state != LiveTab.get_name() for var in values}

    def thread(self) -> ThreadPane:
        return asyncio.run(self.board.get_value("thread"))  # type: ignore[no-any-return]

    def composer(self) -> reply.Composer:
        return asyncio.run(self.reply.get_value("composer"))  # type: ignore[no-any-return]

    def card_names(self) -> list[str]:
        return [card.contact_name for i in range(12)
                for card in asyncio.run(self.board.get_value(f"cards_{i}"))]


class Pushes:
    """Committed events, moved into the worker's marks the way the bridge's push does."""

    def __init__(self) -> None:
        self.batches: list[list[DomainEvent]] = []

    def record(self) -> tuple[Counter, ...]:
        """The counters the committed events moved (now in the worker's marks)."""
        moved: set[Counter] = set()
        for batch in self.batches:
            for org_id, changes in changes_by_org(batch).items():
                hub.marks_of(org_id).record(changes)
                moved.update(changes)
        self.batches.clear()
        return tuple(sorted(moved))

    def rev(self, org_id: int, counter: Counter) -> int:
        return hub.marks_of(org_id).revs[counter]


@pytest.fixture
def pushes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Pushes]:
    for memo in (board.BOARDS, board.THREADS, reply.WINDOWS, reply.TEMPLATE_OPTIONS):
        memo.clear()  # each test has a new database with the same ids
    hub.forget_all()

    async def alive(session_id: str) -> bool:
        return bool(session_id)

    monkeypatch.setattr(live_sessions, "alive", alive)
    pushes = Pushes()
    subscribe(pushes.batches.append)
    yield pushes
    unsubscribe(pushes.batches.append)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often the board, the thread and the template list were read from the database."""
    counts = {"thread": 0, "templates": 0, "board": 0}

    def counting(name: str, read: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return read(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(inbox, "lead_thread", counting("thread", inbox.lead_thread))
    monkeypatch.setattr(templates, "list_templates", counting("templates", templates.list_templates))
    monkeypatch.setattr(board_model, "board", counting("board", board_model.board))
    return counts


def customer_writes(database: Database, shop: Shop, wa_id: str, text: str) -> None:
    """A message sent a second from now (after every lead the test made: the newest card of its column)."""
    message = text_message(f"wamid.{wa_id}.{time.time_ns()}", wa_id, text, timestamp=int(time.time()) + 1)
    ingest(database, shop.org.org_id, parse_envelope(envelope(change(shop.org.phone_number_id, messages=[message]))))


def test_a_message_for_another_conversation_reads_neither_the_open_thread_nor_the_templates(
        database: Database, pushes: Pushes, reads: dict[str, int]) -> None:
    shop = make_shop(database)
    open_lead = add_lead(database, shop, OPEN, name="Open Customer")
    other_lead = add_lead(database, shop, OTHER, name="Other Customer")
    with database.session() as db:
        templates.define_template(db, shop.admin(), name="welcome_back", language="en_US", body="Hello {{1}}")
    pushes.record()
    tab = Tab(shop.agent(), open_lead)
    thread, composer = tab.thread(), tab.composer()
    assert thread.contact_name == "Open Customer" and composer.window_open
    assert [o.label for o in composer.templates] == ["welcome_back (en_US)"]
    assert reads == {"thread": 1, "templates": 1, "board": 1}

    customer_writes(database, shop, OTHER, "Is the green one back?")
    sent = tab.sent(pushes.record())
    assert pushes.rev(shop.org.org_id, "messages_rev") == 1
    assert "thread" not in sent and "composer" not in sent and sent  # the board moved, the open thread did not
    assert (tab.thread(), tab.composer()) == (thread, composer)
    assert reads == {"thread": 1, "templates": 1, "board": 2}  # nothing the open thread shows changed

    customer_writes(database, shop, OPEN, "And the blue one?")
    sent = tab.sent(pushes.record())
    assert {"thread", "composer"} <= sent
    assert [m.text for m in tab.thread().messages] == ["And the blue one?"]
    assert reads == {"thread": 2, "templates": 1, "board": 3}  # the open conversation moved; the templates did not

    with database.session() as db:
        templates.define_template(db, shop.admin(), name="sale_now", language="en_US", body="Sale, {{1}}!")
    assert tab.sent(pushes.record()) == {"composer"}
    assert [o.label for o in tab.composer().templates] == ["sale_now (en_US)", "welcome_back (en_US)"]
    assert reads == {"thread": 2, "templates": 2, "board": 3}

    stages = {s.name: s.id for s in _stages(database, shop)}
    with database.session() as db:
        crm.move_lead(db, shop.agent(), other_lead, stages["Qualified"])
        db.commit()
    assert "thread" not in tab.sent(pushes.record()) and reads["thread"] == 2  # another lead moved
    with database.session() as db:
        crm.move_lead(db, shop.agent(), open_lead, stages["Won"])
        db.commit()
    assert "thread" in tab.sent(pushes.record())
    assert tab.thread().stage_name == "Won" and reads["thread"] == 3


def test_a_message_for_a_lead_with_no_conversation_yet_reads_its_thread_again(
        database: Database, pushes: Pushes, reads: dict[str, int]) -> None:
    """A thread that names no conversation cannot tell which message is its own: any message concerns it."""
    shop = make_shop(database)
    with database.session() as db:
        contact_lead = crm.open_leads_for_contacts(db, org_id=shop.org.org_id, contact_ids=[_contact(db, shop)])[0].id
        db.commit()
    tab = Tab(shop.agent(), contact_lead)
    assert tab.thread().messages == [] and reads["thread"] == 1
    customer_writes(database, shop, OPEN, "Hello, anyone there?")
    tab.push(pushes.record())
    assert [m.text for m in tab.thread().messages] == ["Hello, anyone there?"]
    assert reads["thread"] == 2


def test_a_change_reads_the_board_once_per_distinct_view_not_once_per_tab(
        database: Database, pushes: Pushes, reads: dict[str, int]) -> None:
    """Two admins' tabs share the organisation's board; an agent's tabs share the agent's own view."""
    shop = make_shop(database)
    add_lead(database, shop, OPEN, name="Open Customer")
    pushes.record()
    admin_tabs = [Tab(shop.admin()) for _ in range(3)]
    agent_tabs = [Tab(shop.agent()) for _ in range(3)]
    before = [tab.card_names() for tab in admin_tabs + agent_tabs]
    assert reads["board"] == 2
    customer_writes(database, shop, OTHER, "Do you ship to Lahore?")
    moved = pushes.record()
    assert all(tab.sent(moved) for tab in admin_tabs + agent_tabs)
    after = [tab.card_names() for tab in admin_tabs + agent_tabs]
    assert reads["board"] == 4  # one read per view for the change, not six
    assert all(len(now) == len(was) + 1 for now, was in zip(after, before, strict=True))  # every tab sees the new lead
    assert [tab.card_names() for tab in admin_tabs] == after[:3] and reads["board"] == 4  # nothing changed: no read


def test_a_new_message_sends_its_leads_column_and_the_counts_it_moved_not_the_board(
        database: Database, pushes: Pushes) -> None:
    shop = make_shop(database)
    stages = {s.name: s.id for s in _stages(database, shop)}
    for n in range(30):  # a full first column, and a few leads further on
        lead = add_lead(database, shop, f"9230011200{n:02d}", name=f"Customer {n:02d}")
        if n % 5 == 0:
            with database.session() as db:
                crm.move_lead(db, shop.admin(), lead, stages["Qualified" if n % 10 else "Proposal"])
                db.commit()
    pushes.record()
    tab = Tab(shop.admin())
    assert tab.sent(()) == set()  # nothing moved: nothing to send

    customer_writes(database, shop, "923001120007", "Is the blue one still there?")  # a returning customer
    delta = tab.push(pushes.record())
    board_part = delta[board.BoardState.get_name()]
    assert set(board_part) == {"cards_0"}  # its column, reordered; no count moved
    assert set(delta) == {board.BoardState.get_name()}  # no counter, header or other page
    assert board_part["cards_0"][0].preview == "Is the blue one still there?"
    assert len(json.dumps(delta, default=vars)) < 2048, "one changed card: its column of 12 and nothing else"

    customer_writes(database, shop, "923001129999", "Hello, new here")  # a new customer: a new lead
    board_part = tab.push(pushes.record())[board.BoardState.get_name()]
    assert set(board_part) == {"cards_0", "stages"}
    assert board_part["stages"][0].count == 25

    stage_ids = [head.stage_id for head in asyncio.run(tab.board.get_value("stages"))]
    with database.session() as db:
        crm.move_lead(db, shop.admin(), _lead_of(db, shop, "923001120005"), int(stage_ids[2]))
        db.commit()
    assert tab.sent(pushes.record()) == {"stages", "cards_1", "cards_2"}  # from the second column to the third


def test_tabs_sent_the_same_parts_are_told_so_and_a_tab_with_its_conversation_open_gets_its_own(
        database: Database, pushes: Pushes) -> None:
    """The bridge computes one delta per key refresh_tab returns and sends it to every tab with that key."""
    shop = make_shop(database)
    open_lead = add_lead(database, shop, OPEN, name="Open Customer")
    add_lead(database, shop, OTHER, name="Other Customer")
    pushes.record()
    plain = [Tab(shop.admin()) for _ in range(2)]
    reading = Tab(shop.admin(), open_lead)
    elsewhere = Tab(shop.admin(), path="/analytics")
    customer_writes(database, shop, OPEN, "Still open?")
    moved = pushes.record()
    deltas = [tab.push(moved) for tab in (*plain, reading, elsewhere)]
    assert plain[0].shared is not None and plain[0].shared == plain[1].shared and deltas[0] == deltas[1]
    assert reading.shared is None and "thread" in deltas[2][board.BoardState.get_name()]  # the reply box follows
    assert elsewhere.shared == () and deltas[3] == {}  # nothing of the board, and no frame
    customer_writes(database, shop, OTHER, "Me too")
    moved = pushes.record()
    deltas = [tab.push(moved) for tab in (*plain, reading)]
    assert plain[0].shared == plain[1].shared == reading.shared  # its thread did not move: the same cards as the others
    assert deltas[0] == deltas[1] == deltas[2]


def test_a_tab_on_another_page_gets_nothing_of_the_board_and_catches_up_when_it_comes_back(
        database: Database, pushes: Pushes, monkeypatch: pytest.MonkeyPatch) -> None:
    async def signed_in(*_args: Any) -> None:
        return None

    monkeypatch.setattr(board.BoardState, "_sign_in", signed_in)
    shop = make_shop(database)
    add_lead(database, shop, OPEN, name="Open Customer")
    pushes.record()
    away, here = Tab(shop.admin(), path="/settings"), Tab(shop.admin())
    customer_writes(database, shop, OTHER, "Do you ship to Lahore?")
    moved = pushes.record()
    assert away.sent(moved) == set() and here.sent(moved) == {"stages", "cards_0"}
    away.root.router = RouterData(session=away.root.router.session, url=ReflexURL("http://localhost:3000/board"))
    assert asyncio.run(_open_board(away)) is None
    assert set(away._delta().get(board.BoardState.get_name(), {})) >= {"stages_rx_state_", "cards_0_rx_state_"}
    assert away.card_names() == here.card_names()


async def _open_board(tab: Tab) -> Any:
    """The board's on_load, as the tab's navigation back to it runs it (its sign-in finds the same session)."""
    return await board.BoardState.open_board.fn(tab.board)


def _lead_of(db: Any, shop: Shop, wa_id: str) -> int:
    from sqlalchemy import select

    from pkcrm_app.crm.models import Contact, Lead

    return db.scalar(select(Lead.id).join(Contact, Contact.id == Lead.contact_id)
                     .where(Contact.org_id == shop.org.org_id, Contact.wa_id == wa_id))


def _stages(database: Database, shop: Shop) -> list[Any]:
    with database.session() as db:
        pipeline = crm.default_pipeline(db, shop.org.org_id)
        return crm.stages_of(db, shop.org.org_id, pipeline.id)


def _contact(db: Any, shop: Shop) -> int:
    from pkcrm_app.crm.models import Contact

    contact = Contact(org_id=shop.org.org_id, wa_id=OPEN, phone_e164=f"+{OPEN}", name="Quiet Customer")
    db.add(contact)
    db.flush()
    return contact.id


def test_a_stored_tab_keeps_no_copy_of_the_board_and_reads_it_back_from_the_view_cache(
        database: Database, pushes: Pushes, reads: dict[str, int]) -> None:
    """With Redis every push stores each tab it reaches: its board parts stay in the worker's view cache."""
    shop = make_shop(database)
    add_lead(database, shop, OPEN, name="Open Customer")
    pushes.record()
    tab = Tab(shop.admin())
    shown = tab.card_names()
    stored = tab.board.__getstate__()
    assert not [name for name in stored if name.startswith("__cached_")], "no part's value is stored"
    assert "Open Customer" not in repr(stored) and "cards_per_stage" in stored
    tab.board.__dict__.clear()
    tab.board.__setstate__(stored)
    tab.board.parent_state = tab.root
    assert tab.card_names() == shown and reads["board"] == 1


def test_cards_rank_by_their_conversations_newest_message_not_by_when_it_was_stored(
        database: Database, pushes: Pushes) -> None:
    """An imported or late-delivered history keeps its own time on the board; a new message lifts its card."""
    shop = make_shop(database)
    add_lead(database, shop, OPEN, name="Quiet Since Creation")
    hour_ago = int(time.time()) - 3600
    message = text_message(f"wamid.late.{time.time_ns()}", OTHER, "sent an hour ago", timestamp=hour_ago)
    ingest(database, shop.org.org_id, parse_envelope(envelope(change(shop.org.phone_number_id, messages=[message]))))
    pushes.record()
    tab = Tab(shop.admin())
    assert tab.card_names()[:2] == ["Quiet Since Creation", "+923001110002"]
    customer_writes(database, shop, OTHER, "and now")
    tab.push(pushes.record())
    assert tab.card_names()[:2] == ["+923001110002", "Quiet Since Creation"]
