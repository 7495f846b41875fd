"""A push recomputes every open tab, but a tab reads again only what the change concerns: a message for another
conversation leaves the open thread and the reply box's templates as they are (issue 10, point 6).

Drives the board's `thread` and the reply box's `composer` computed vars as a push does: real services commit,
their events go through the bridge's table into the organisation's shared state, and the vars are recomputed
for a tab with a lead open."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import reflex as rx

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
from pkcrm_app.live.bridge import changes_by_org
from pkcrm_app.live.state import Counter, LiveTab, mark_moved
from pkcrm_app.ui.pages.board import reply_state as reply
from pkcrm_app.ui.pages.board import state as board
from pkcrm_app.ui.pages.board.views import ThreadPane
from tests.support.outbox import Shop, add_lead, make_shop
from tests.support.webhooks import change, envelope, text_message

OPEN, OTHER = "923001110001", "923001110002"


class Tab:
    """What the board's computed vars read from a tab: its selection, its session and its live counters."""

    def __init__(self, live: LiveTab, actor: Actor, lead_id: int) -> None:
        self.live, self.actor = live, actor
        self.selected_lead_id, self.thread_limit, self._tz, self._org_id = lead_id, 50, "UTC", actor.org_id
        self.cards_per_stage = 20

    async def get_state(self, cls: type) -> LiveTab:
        assert cls is LiveTab
        return self.live

    async def _tab_actor(self) -> Actor:
        return self.actor


class Pushes:
    """Committed events, moved into the worker's marks the way the bridge's push does."""

    def __init__(self) -> None:
        root = rx.State(_reflex_internal_init=True)  # type: ignore[call-arg]
        self.live = root.get_substate(LiveTab.get_full_name().split("."))
        self.batches: list[list[DomainEvent]] = []

    def push(self) -> None:
        for batch in self.batches:
            for org_id, changes in changes_by_org(batch).items():
                hub.marks_of(org_id).record(changes)
                mark_moved(self.live, changes)
        self.batches.clear()

    def rev(self, org_id: int, counter: Counter) -> int:
        return hub.marks_of(org_id).revs[counter]


@pytest.fixture
def pushes() -> Iterator[Pushes]:
    for memo in (board.BOARDS, board.THREADS, reply.WINDOWS, reply.TEMPLATE_OPTIONS):
        memo.clear()  # each test has a new database with the same ids
    hub.forget_all()
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
    message = text_message(f"wamid.{wa_id}.{time.time_ns()}", wa_id, text, timestamp=int(time.time()))
    ingest(database, shop.org.org_id, parse_envelope(envelope(change(shop.org.phone_number_id, messages=[message]))))


def shown(tab: Tab) -> tuple[ThreadPane, reply.Composer]:
    """Recompute the tab's thread and reply box, as a push of a linked shared state does."""
    async def recompute() -> tuple[ThreadPane, reply.Composer]:
        thread = await board.BoardState.computed_vars["thread"]._fget(tab)
        return thread, await reply.ReplyState.computed_vars["composer"]._fget(tab)
    return asyncio.run(recompute())


def test_a_message_for_another_conversation_reads_neither_the_open_thread_nor_the_templates(
        database: Database, pushes: Pushes, reads: dict[str, int]) -> None:
    shop = make_shop(database)
    open_lead = add_lead(database, shop, OPEN, name="Open Customer")
    other_lead = add_lead(database, shop, OTHER, name="Other Customer")
    with database.session() as db:
        templates.define_template(db, shop.admin(), name="welcome_back", language="en_US", body="Hello {{1}}")
    pushes.push()
    tab = Tab(pushes.live, shop.agent(), open_lead)
    thread, composer = shown(tab)
    assert thread.contact_name == "Open Customer" and composer.window_open
    assert [o.label for o in composer.templates] == ["welcome_back (en_US)"]
    assert reads == {"thread": 1, "templates": 1, "board": 0}

    customer_writes(database, shop, OTHER, "Is the green one back?")
    pushes.push()
    assert pushes.rev(shop.org.org_id, "messages_rev") == 1
    assert shown(tab) == (thread, composer)
    assert reads == {"thread": 1, "templates": 1, "board": 0}  # nothing this tab shows changed

    customer_writes(database, shop, OPEN, "And the blue one?")
    pushes.push()
    thread, composer = shown(tab)
    assert [m.text for m in thread.messages] == ["And the blue one?"]
    assert reads == {"thread": 2, "templates": 1, "board": 0}  # the open conversation moved; the templates did not

    with database.session() as db:
        templates.define_template(db, shop.admin(), name="sale_now", language="en_US", body="Sale, {{1}}!")
    pushes.push()
    thread, composer = shown(tab)
    assert [o.label for o in composer.templates] == ["sale_now (en_US)", "welcome_back (en_US)"]
    assert reads == {"thread": 2, "templates": 2, "board": 0}

    stages = {s.name: s.id for s in _stages(database, shop)}
    with database.session() as db:
        crm.move_lead(db, shop.agent(), other_lead, stages["Qualified"])
        db.commit()
    pushes.push()
    assert shown(tab)[0] == thread and reads["thread"] == 2  # another lead moved
    with database.session() as db:
        crm.move_lead(db, shop.agent(), open_lead, stages["Won"])
        db.commit()
    pushes.push()
    assert shown(tab)[0].stage_name == "Won" and reads == {"thread": 3, "templates": 2, "board": 0}


def test_a_message_for_a_lead_with_no_conversation_yet_reads_its_thread_again(
        database: Database, pushes: Pushes, reads: dict[str, int]) -> None:
    """A thread that names no conversation cannot tell which message is its own: any message concerns it."""
    shop = make_shop(database)
    with database.session() as db:
        contact_lead = crm.open_leads_for_contacts(db, org_id=shop.org.org_id, contact_ids=[_contact(db, shop)])[0].id
        db.commit()
    tab = Tab(pushes.live, shop.agent(), contact_lead)
    assert shown(tab)[0].messages == [] and reads["thread"] == 1
    customer_writes(database, shop, OPEN, "Hello, anyone there?")
    pushes.push()
    assert [m.text for m in shown(tab)[0].messages] == ["Hello, anyone there?"]
    assert reads["thread"] == 2


def columns(tab: Tab) -> list[str]:
    """The card titles the tab's board shows, recomputed as a push does."""
    shown = asyncio.run(board.BoardState._board_columns(tab))  # type: ignore[arg-type]
    return [card.contact_name for column in shown for card in column.cards]


def test_a_change_reads_the_board_once_per_distinct_view_not_once_per_tab(
        database: Database, pushes: Pushes, reads: dict[str, int]) -> None:
    """Two admins' tabs share the organisation's board; an agent's tabs share the agent's own view."""
    shop = make_shop(database)
    add_lead(database, shop, OPEN, name="Open Customer")
    admin_tabs = [Tab(pushes.live, shop.admin(), 0) for _ in range(3)]
    agent_tabs = [Tab(pushes.live, shop.agent(), 0) for _ in range(3)]
    before = [columns(tab) for tab in admin_tabs + agent_tabs]
    assert reads["board"] == 2
    customer_writes(database, shop, OTHER, "Do you ship to Lahore?")
    pushes.push()
    after = [columns(tab) for tab in admin_tabs + agent_tabs]
    assert reads["board"] == 4  # one read per view for the change, not six
    assert all(len(now) == len(was) + 1 for now, was in zip(after, before, strict=True))  # every tab sees the new lead
    assert [columns(tab) for tab in admin_tabs] == after[:3] and reads["board"] == 4  # nothing changed: no read


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
