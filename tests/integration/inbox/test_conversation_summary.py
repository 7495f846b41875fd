"""The one writer of a conversation's summary keeps the newest message on top and counts every unread one, in
whatever order and however concurrently messages are stored (compare-and-set in SQL, never read-modify-write)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import select

from pkcrm_app.core.db import Database
from pkcrm_app.crm.models import Lead
from pkcrm_app.inbox.inbound import PREVIEW_CHARS, NewestMessage, note_messages
from pkcrm_app.inbox.models import Conversation
from tests.support.outbox import add_lead, make_shop

T0 = datetime(2026, 11, 1, 12, 0)


def conversation_of(database: Database, lead_id: int) -> int:
    with database.session() as db:
        lead = db.get_one(Lead, lead_id)
        return db.scalars(select(Conversation.id).where(Conversation.contact_id == lead.contact_id)).one()


def summary(database: Database, conversation_id: int) -> tuple[datetime | None, str | None, int, datetime | None]:
    with database.session() as db:
        found = db.get_one(Conversation, conversation_id)
        return found.last_message_at, found.last_message_preview, found.unread_count, found.last_inbound_at


def note(database: Database, conversation_id: int, at: datetime, preview: str, received: int = 0) -> None:
    with database.session() as db:
        note_messages(db, [NewestMessage(db.get_one(Conversation, conversation_id), at, preview, received)])


def test_the_newest_message_stays_on_top_whatever_order_they_are_stored_in(database: Database) -> None:
    conversation = conversation_of(database, add_lead(database, make_shop(database), "923001110001",
                                                      last_inbound=None))
    note(database, conversation, T0, "Our offer")
    note(database, conversation, T0 - timedelta(days=3), "an old imported line")
    assert summary(database, conversation)[:3] == (T0, "Our offer", 0)
    note(database, conversation, T0 + timedelta(minutes=2), "Is it in stock?", received=1)
    note(database, conversation, T0 + timedelta(minutes=1), "x" * 500, received=1)  # arrived late
    assert summary(database, conversation) == (T0 + timedelta(minutes=2), "Is it in stock?", 2,
                                               T0 + timedelta(minutes=2))
    note(database, conversation, T0 + timedelta(minutes=3), "y" * 500)
    assert summary(database, conversation)[1] == "y" * PREVIEW_CHARS


def test_concurrent_deliveries_lose_no_unread_message_and_keep_the_newest(database: Database) -> None:
    """Eight threads store 40 messages of one customer at once, newest first in some of them."""
    conversation = conversation_of(database, add_lead(database, make_shop(database), "923001110002",
                                                      last_inbound=None))
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def deliver(worker: int) -> None:
        start.wait()
        for step in range(5):
            minute = worker * 5 + (4 - step if worker % 2 else step)
            for attempt in range(20):  # SQLite answers "database is locked" under contention: try again
                try:
                    note(database, conversation, T0 + timedelta(minutes=minute), f"message {minute}", received=1)
                    break
                except Exception as exc:
                    if attempt == 19:
                        errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert summary(database, conversation) == (T0 + timedelta(minutes=39), "message 39", 40, T0 + timedelta(minutes=39))
