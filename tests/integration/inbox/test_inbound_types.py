"""Kinds of inbound messages that need more than one message to show right: reactions on their target (and their
removal), replies quoting what they answer, ad referrals as the lead's source; one bad message of a delivery
never loses the others; fields other than messages are acknowledged and logged."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import func, select

from pkcrm_app.core.authz import Role
from pkcrm_app.crm.models import Lead
from pkcrm_app.inbox import inbound as ingest_module
from pkcrm_app.inbox.models import Message
from pkcrm_app.inbox.service import MessageView, lead_thread
from tests.support.data import OrgFixture, make_org
from tests.support.webhooks import change, envelope, post_signed, text_message

CUSTOMER = "923005556666"


@pytest.fixture
def acme(database) -> OrgFixture:  # type: ignore[no-untyped-def]
    return make_org(database, "acme", "5001", {"agent": Role.AGENT})


def deliver(api, org: OrgFixture, *messages: dict[str, Any]) -> Any:  # type: ignore[no-untyped-def]
    return post_signed(api, envelope(change(org.phone_number_id, messages=list(messages))), org.app_secret)


def reaction(wamid: str, target: str, emoji: str | None, at: int) -> dict[str, Any]:
    item = {"message_id": target} | ({"emoji": emoji} if emoji is not None else {})
    return {"from": CUSTOMER, "id": wamid, "timestamp": str(at), "type": "reaction", "reaction": item}


def pane(database, org: OrgFixture) -> list[MessageView]:  # type: ignore[no-untyped-def]
    with database.session() as db:
        lead_id = db.scalars(select(Lead.id).where(Lead.org_id == org.org_id)).one()
        return lead_thread(db, org.actor("agent"), lead_id).messages


def test_a_reaction_shows_on_its_message_and_its_removal_takes_it_off(api, database, acme) -> None:
    deliver(api, acme, text_message("wamid.q", CUSTOMER, "Do you deliver to Lahore?", 1_700_000_000))
    deliver(api, acme, reaction("wamid.r1", "wamid.q", "👍", 1_700_000_010))
    [bubble] = pane(database, acme)
    assert (bubble.text, bubble.reactions) == ("Do you deliver to Lahore?", "👍")
    deliver(api, acme, reaction("wamid.r2", "wamid.q", "❤️", 1_700_000_020))
    assert [b.reactions for b in pane(database, acme)] == ["❤️"]  # a new reaction replaces the earlier one
    deliver(api, acme, reaction("wamid.r3", "wamid.q", "", 1_700_000_030))
    assert [(b.text, b.reactions) for b in pane(database, acme)] == [("Do you deliver to Lahore?", "")]


def test_a_reaction_to_an_unknown_message_is_kept_but_not_shown(api, database, acme) -> None:
    deliver(api, acme, text_message("wamid.1", CUSTOMER, "hello", 1_700_000_000),
            reaction("wamid.r", "wamid.never-seen", "😮", 1_700_000_001))
    assert [(b.text, b.reactions) for b in pane(database, acme)] == [("hello", "")]
    with database.session() as db:
        kept = select(func.count()).where(Message.type == "reaction", Message.reacts_to == "wamid.never-seen")
        assert db.scalar(kept) == 1


def test_a_reply_shows_the_message_it_quotes(api, database, acme) -> None:
    deliver(api, acme, text_message("wamid.a", CUSTOMER, "Price of the blue kurta?", 1_700_000_000))
    reply = text_message("wamid.b", CUSTOMER, "And in size M?", 1_700_000_050) | {"context": {"id": "wamid.a"}}
    deliver(api, acme, reply)
    assert [(b.text, b.quote) for b in pane(database, acme)] == [
        ("Price of the blue kurta?", ""), ("And in size M?", "Customer: Price of the blue kurta?")]


def test_an_ad_referral_becomes_the_lead_source(api, database, acme) -> None:
    message = text_message("wamid.ad", CUSTOMER, "I saw your ad") | {"referral": {
        "source_url": "https://fb.me/ad/1", "source_type": "ad", "headline": "Eid sale", "ctwa_clid": "x"}}
    deliver(api, acme, message)
    with database.session() as db:
        assert db.scalars(select(Lead.source).where(Lead.org_id == acme.org_id)).one() == "whatsapp ad"
    [bubble] = pane(database, acme)
    assert bubble.referral == "From a click-to-WhatsApp ad · Eid sale · https://fb.me/ad/1"


def test_one_message_failing_to_store_does_not_lose_the_others(api, database, acme, monkeypatch, caplog) -> None:
    real = ingest_module._message_row

    def poisoned(org_id: int, conversation_id: int, message: Any) -> Message:
        if message.text == "poison":
            raise ValueError("cannot store this one")
        return real(org_id, conversation_id, message)

    monkeypatch.setattr(ingest_module, "_message_row", poisoned)
    with caplog.at_level(logging.ERROR):
        response = deliver(api, acme, text_message("wamid.1", CUSTOMER, "first", 1_700_000_000),
                           text_message("wamid.2", CUSTOMER, "poison", 1_700_000_001),
                           text_message("wamid.3", "923007778888", "third", 1_700_000_002))
    assert response.status_code == 200 and response.json()["stored"] == 2
    with database.session() as db:
        assert sorted(db.scalars(select(Message.body).where(Message.org_id == acme.org_id))) == ["first", "third"]
    assert "webhook item wamid.2 could not be stored" in caplog.text


def test_fields_other_than_messages_are_acknowledged_and_logged(api, database, acme, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="pkcrm_app.channels.whatsapp.webhook"):
        response = post_signed(api, envelope(change(acme.phone_number_id, field="account_update"),
                                             change(acme.phone_number_id, field="calls")), acme.app_secret)
    assert response.status_code == 200 and response.json()["stored"] == 0
    assert "webhook field 'account_update' acknowledged" in caplog.text
    assert "webhook field 'calls' acknowledged" in caplog.text
