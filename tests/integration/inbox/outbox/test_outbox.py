"""Sending from the conversation pane: the 24-hour window, templates, the outbox and its sender against the
local Cloud API simulator (back-off, permanent failures in plain words, the per-number rate limit)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from pkcrm_app.channels.whatsapp import templates
from pkcrm_app.channels.whatsapp.client import CloudClient
from pkcrm_app.channels.whatsapp.models import WhatsAppNumber
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import InvalidInput, NotFound
from pkcrm_app.dev.cloud_simulator.webhooks import status_envelope
from pkcrm_app.flows.webhook_delivery import reconcile_receipts
from pkcrm_app.inbox.models import Message, MessageStatus
from pkcrm_app.inbox.outbox import service as outbox
from pkcrm_app.inbox.outbox.models import OutboxItem, OutboxState
from pkcrm_app.inbox.outbox.sender import RateLimiter, Sender
from pkcrm_app.inbox.service import lead_thread
from tests.support.outbox import add_lead, client_factory, make_shop, sim_state, simulator
from tests.support.webhooks import change, envelope, post_signed, status

CUSTOMER = "923001234567"


@pytest.fixture
def shop(database):  # type: ignore[no-untyped-def]
    return make_shop(database)


def shown(database, shop, lead_id: int):  # type: ignore[no-untyped-def]
    """The messages the agent's pane shows: (text, status, error)."""
    with database.session() as db:
        return [(m.text, m.status, m.error) for m in lead_thread(db, shop.agent(), lead_id).messages]


def items(database) -> list[OutboxItem]:  # type: ignore[no-untyped-def]
    with database.session() as db:
        return list(db.scalars(select(OutboxItem).order_by(OutboxItem.id)))


def drain(database, url: str, **kwargs) -> Sender:  # type: ignore[no-untyped-def]
    sender = Sender(database, client_factory=client_factory(url), **kwargs)
    while sender.run_once():
        pass
    return sender


def test_free_form_messages_need_the_24_hour_window(database, shop) -> None:
    open_lead = add_lead(database, shop, CUSTOMER)
    closed_lead = add_lead(database, shop, "923007654321", last_inbound=utcnow() - timedelta(hours=25))
    never_lead = add_lead(database, shop, "923001111111", last_inbound=None)
    with database.session() as db:
        window = outbox.conversation_window(db, shop.agent(), open_lead)
        assert window.open and 23 * 3600 < window.seconds_left <= 24 * 3600
        assert not outbox.conversation_window(db, shop.agent(), closed_lead).open
        for lead in (closed_lead, never_lead):
            with pytest.raises(InvalidInput, match="24-hour window is closed"):
                outbox.send_text(db, shop.agent(), lead, "Hello?")
            with pytest.raises(InvalidInput, match="24-hour window is closed"):
                outbox.send_buttons(db, shop.agent(), lead, "Confirm?", ["Yes", "No"])
        outbox.send_text(db, shop.agent(), open_lead, "Your order ships today")
    assert [(text, st) for text, st, _ in shown(database, shop, open_lead)] == [
        ("Your order ships today", MessageStatus.PENDING)]
    assert shown(database, shop, closed_lead) == [] and len(items(database)) == 1


def test_templates_go_out_with_the_window_closed_and_variables_from_the_contact(database, shop) -> None:
    lead = add_lead(database, shop, CUSTOMER, last_inbound=utcnow() - timedelta(days=3))
    with database.session() as db:
        template = templates.define_template(db, shop.admin(), name="order_ready", language="en_US",
                                             body="Hi {{1}}, we will call {{2}} when it is ready.",
                                             variables={"1": "first_name", "2": "phone"})
        outbox.send_template(db, shop.agent(), lead, template.id)
    [(text, state, _)] = shown(database, shop, lead)
    assert text == "Hi Ayesha, we will call +923001234567 when it is ready." and state == MessageStatus.PENDING
    [item] = items(database)
    parameters = [{"type": "text", "text": "Ayesha"}, {"type": "text", "text": "+923001234567"}]
    assert item.payload["template"] == {"name": "order_ready", "language": {"code": "en_US"},
                                        "components": [{"type": "body", "parameters": parameters}]}
    with database.session() as db, pytest.raises(InvalidInput, match="unknown contact field"):
        templates.define_template(db, shop.admin(), name="x", language="en_US", body="{{1}}", variables={"1": "email"})


def test_the_message_and_its_outbox_row_are_one_transaction(database, shop) -> None:
    lead = add_lead(database, shop, CUSTOMER)
    with database.session() as db:
        message = outbox.send_text(db, shop.agent(), lead, "first")
    [item] = items(database)
    assert item.message_id == message.id and message.wa_message_id == "out:" + item.idempotency_key
    with database.session() as db:  # the outbox insert fails (its key is taken): the message must not stay either
        target = outbox._target(db, shop.agent(), lead)
        with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
            outbox._enqueue(db, shop.agent(), target, kind="text", body="second", cloud={"body": "second"},
                            key=item.idempotency_key)
        db.rollback()
    with database.session() as db:
        assert db.scalar(select(func.count()).select_from(Message)) == 1
    assert [t for t, _, _ in shown(database, shop, lead)] == ["first"]


def test_sent_messages_get_their_wamid_and_statuses_find_them(api, database, shop) -> None:
    lead = add_lead(database, shop, CUSTOMER)
    with database.session() as db:
        outbox.send_text(db, shop.agent(), lead, "Hello Ayesha")
        outbox.send_buttons(db, shop.agent(), lead, "Shall we deliver tomorrow?", ["Yes", "No", "Call me"])
    state = sim_state(shop)
    with simulator(state) as url:
        drain(database, url)
    accepted = {m["key"]: m for m in state.messages}
    assert [m["type"] for m in state.messages] == ["text", "interactive"]
    for item in items(database):
        assert item.state == OutboxState.SENT and item.wa_message_id == accepted[item.idempotency_key]["wamid"]
    wamid = state.messages[0]["wamid"]
    payload = envelope(change(shop.org.phone_number_id, statuses=[status(wamid, "delivered", 1_900_000_000)]))
    assert post_signed(api, payload, shop.org.app_secret).json()["statuses"] == 1
    assert [s for _, s, _ in shown(database, shop, lead)] == [MessageStatus.DELIVERED, MessageStatus.SENT]


@pytest.mark.parametrize(("recipient", "token", "says"), [
    ("923000000026", None, "cannot receive this message"),
    ("923000000047", None, "More than 24 hours have passed"),
    (CUSTOMER, "expired-token", "access token has expired or is invalid"),
])
def test_permanent_failures_are_shown_to_the_agent_in_plain_words(database, shop, recipient, token, says) -> None:
    lead = add_lead(database, shop, recipient)
    with database.session() as db:
        outbox.send_text(db, shop.agent(), lead, "Hello")
        if token:
            db.execute(update(WhatsAppNumber).values(access_token=token))
    state = sim_state(shop)
    with simulator(state) as url:
        drain(database, url)
    [(_, st, error)] = shown(database, shop, lead)
    assert st == MessageStatus.FAILED and says in error
    assert [i.state for i in items(database)] == [OutboxState.FAILED] and state.messages == []


@pytest.mark.parametrize("recipient", ["923000000429", "923000000500"])
def test_throttling_and_server_errors_are_retried_after_a_back_off(database, shop, recipient) -> None:
    lead = add_lead(database, shop, recipient)
    with database.session() as db:
        outbox.send_text(db, shop.agent(), lead, "Hello")
    state = sim_state(shop)
    with simulator(state) as url:
        drain(database, url, limiter=RateLimiter(sleep=lambda _s: None))
        [item] = items(database)
        assert item.state == OutboxState.QUEUED and item.attempts == 1 and item.next_attempt_at > utcnow()
        assert shown(database, shop, lead)[0][1] == MessageStatus.PENDING and state.messages == []
        with database.session() as db:  # the back-off has passed
            db.execute(update(OutboxItem).values(next_attempt_at=utcnow()))
        drain(database, url)
    [item] = items(database)
    assert item.state == OutboxState.SENT and item.attempts == 2
    assert state.sent_keys() == {item.idempotency_key: 1}


def test_a_timed_out_send_is_confirmed_by_its_receipt_not_sent_again(database, shop) -> None:
    lead = add_lead(database, shop, "923000000408")
    with database.session() as db:
        outbox.send_text(db, shop.agent(), lead, "Hello")
    state = sim_state(shop)
    state.slow_seconds = 1.0
    with simulator(state) as url:
        quick = Sender(database, client_factory=lambda token: CloudClient(
            access_token=token, base=url, version="v21.0", http=httpx.Client(timeout=0.3)))
        quick.run_once()
        [item] = items(database)
        assert item.state == OutboxState.UNCONFIRMED  # WhatsApp may have it: not resent blindly
        while not state.messages:  # the simulator finishes the slow request and accepts the message
            quick.limiter.sleep(0.05)
        number = state.numbers[shop.org.phone_number_id]
        receipt = status_envelope(number, wamid=state.messages[0]["wamid"], status="sent", recipient="x",
                                  key=item.idempotency_key)
        assert reconcile_receipts(database, receipt, lambda _p: shop.org.org_id) == 1
        quick.recover(now=utcnow() + timedelta(days=1))  # far past the reconcile window
        drain(database, url)
    [item] = items(database)
    assert item.state == OutboxState.SENT and item.wa_message_id == state.messages[0]["wamid"]
    assert state.sent_keys() == {item.idempotency_key: 1}
    assert shown(database, shop, lead)[0][1] == MessageStatus.SENT


def test_the_per_number_rate_limit_is_respected(database, shop) -> None:
    """The simulator answers 130429 above 22 messages/s; the number is set to 20/s and never hits it."""
    with database.session() as db:
        db.execute(update(WhatsAppNumber).values(messages_per_second=20))
    leads = [add_lead(database, shop, f"92{i:03d}1234567") for i in range(45)]
    with database.session() as db:
        for lead in leads:
            outbox.send_text(db, shop.agent(), lead, "Sale starts now")
    state = sim_state(shop, rate=22)
    with simulator(state) as url:
        drain(database, url)
    assert state.throttled == 0 and len(state.messages) == 45
    assert all(i.state == OutboxState.SENT for i in items(database))


def test_media_is_checked_uploaded_then_sent_by_id(database, shop) -> None:
    lead = add_lead(database, shop, CUSTOMER)
    with database.session() as db:
        with pytest.raises(InvalidInput, match="cannot send files of type image/gif"):
            outbox.send_media(database, db, shop.agent(), lead, data=b"GIF89a", mime_type="image/gif",
                              filename="a.gif")
        with pytest.raises(InvalidInput, match="up to 5 MB"):
            outbox.send_media(database, db, shop.agent(), lead, data=b"x" * (5 * 1024 * 1024 + 1),
                              mime_type="image/jpeg", filename="big.jpg")
        outbox.send_media(database, db, shop.agent(), lead, data=b"%PDF-1.4 invoice", mime_type="application/pdf",
                          filename="invoice.pdf", caption="Your invoice")
    state = sim_state(shop)
    with simulator(state) as url:
        drain(database, url)
    [sent] = state.messages
    media_id = sent["payload"]["document"]["id"]
    assert state.media[media_id][0] == b"%PDF-1.4 invoice" and state.media[media_id][1] == "application/pdf"
    assert sent["payload"]["document"]["filename"] == "invoice.pdf"
    assert shown(database, shop, lead)[0][1] == MessageStatus.SENT


def test_another_organisation_cannot_send_to_or_resend_in_this_conversation(database, shop) -> None:
    other = make_shop(database, "globex", "2002")
    lead = add_lead(database, shop, CUSTOMER)
    with database.session() as db:
        message = outbox.send_text(db, shop.agent(), lead, "mine")
        with pytest.raises(NotFound):
            outbox.send_text(db, other.agent(), lead, "theirs")
        with pytest.raises(NotFound):
            outbox.resend(db, other.agent(), lead, message.id)
