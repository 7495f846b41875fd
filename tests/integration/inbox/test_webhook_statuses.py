"""Delivery statuses posted to the webhook: only ever forward, and failures keep their error."""

from __future__ import annotations

import pytest

from pkcrm_app.core.authz import Role
from pkcrm_app.crm.models import Contact
from pkcrm_app.crm.service import open_leads_for_contacts
from pkcrm_app.inbox.models import Conversation, Direction, Message, MessageStatus
from pkcrm_app.inbox.service import lead_thread
from tests.support.data import make_org
from tests.support.webhooks import change, envelope, post_signed, status

OUTBOUND = "wamid.outbound-1"
MEDIA_ERROR = [{"code": 131053, "title": "Media upload error", "message": "Media upload error"}]


@pytest.fixture
def sent(database):  # type: ignore[no-untyped-def]
    """An organisation with one lead whose conversation holds a message we sent (status SENT)."""
    org = make_org(database, "acme", "1001", {"agent": Role.AGENT})
    with database.session() as db:
        contact = Contact(org_id=org.org_id, wa_id="923001234567", phone_e164="+923001234567", name="Ayesha")
        db.add(contact)
        db.flush()
        lead = open_leads_for_contacts(db, org_id=org.org_id, contact_ids=[contact.id])[0]
        conversation = Conversation(org_id=org.org_id, contact_id=contact.id)
        db.add(conversation)
        db.flush()
        db.add(Message(org_id=org.org_id, conversation_id=conversation.id, wa_message_id=OUTBOUND,
                       direction=Direction.OUTBOUND, type="text", body="Your order ships today",
                       status=MessageStatus.SENT, sent_at=conversation.created_at))
    return org, lead.id


def post_status(api, org, state: str, errors=None, at: int = 1_700_000_100):  # type: ignore[no-untyped-def]
    payload = envelope(change(org.phone_number_id, statuses=[status(OUTBOUND, state, at, errors)]))
    response = post_signed(api, payload, org.app_secret)
    assert response.status_code == 200
    return response.json()


def shown(database, org, lead_id: int) -> tuple[MessageStatus, str]:  # type: ignore[no-untyped-def]
    """What the agent's conversation pane shows for the outbound message: status and error."""
    with database.session() as db:
        [view] = lead_thread(db, org.actor("agent"), lead_id).messages
    return view.status, view.error


def test_status_moves_forward_and_never_back(api, database, sent) -> None:
    org, lead_id = sent
    assert post_status(api, org, "delivered")["statuses"] == 1
    assert shown(database, org, lead_id) == (MessageStatus.DELIVERED, "")
    assert post_status(api, org, "read", at=1_700_000_200)["statuses"] == 1
    assert shown(database, org, lead_id) == (MessageStatus.READ, "")
    assert post_status(api, org, "delivered", at=1_700_000_150)["statuses"] == 0
    assert shown(database, org, lead_id) == (MessageStatus.READ, "")


def test_failed_on_a_sent_message_shows_the_error(api, database, sent) -> None:
    org, lead_id = sent
    post_status(api, org, "failed", errors=MEDIA_ERROR)
    assert shown(database, org, lead_id) == (MessageStatus.FAILED, "131053 Media upload error")
    post_status(api, org, "delivered", at=1_700_000_300)
    assert shown(database, org, lead_id) == (MessageStatus.FAILED, "131053 Media upload error")


def test_failed_after_read_keeps_read_but_records_the_error(api, database, sent) -> None:
    org, lead_id = sent
    post_status(api, org, "read")
    post_status(api, org, "failed", errors=MEDIA_ERROR, at=1_700_000_200)
    assert shown(database, org, lead_id) == (MessageStatus.READ, "131053 Media upload error")


def test_status_for_a_message_we_do_not_have_changes_nothing(api, database, sent) -> None:
    org, lead_id = sent
    payload = envelope(change(org.phone_number_id, statuses=[status("wamid.someone-else", "read")]))
    assert post_signed(api, payload, org.app_secret).json()["statuses"] == 0
    assert shown(database, org, lead_id) == (MessageStatus.SENT, "")
