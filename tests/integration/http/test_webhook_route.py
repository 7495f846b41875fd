"""The webhook route end to end: handshake, signature, routing to the right organisation, storage."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from pkcrm_app.channels.whatsapp.numbers import register_number
from pkcrm_app.core.authz import Role
from pkcrm_app.crm.models import Contact, Lead, Stage
from pkcrm_app.crm.service import default_pipeline
from pkcrm_app.inbox.models import Conversation, Message
from pkcrm_app.inbox.service import lead_thread
from pkcrm_app.settings import get_settings
from tests.support.data import make_org
from tests.support.webhooks import WEBHOOK_URL, change, envelope, post_signed, text_message

CUSTOMER = "923001234567"


@pytest.fixture
def orgs(database):  # type: ignore[no-untyped-def]
    return make_org(database, "acme", "1001", {}), make_org(database, "globex", "2002", {})


def count(database, model, org_id: int) -> int:  # type: ignore[no-untyped-def]
    with database.session() as db:
        return db.scalar(select(func.count()).select_from(model).where(model.org_id == org_id)) or 0


def stored_messages(database, org_id: int) -> list[Message]:  # type: ignore[no-untyped-def]
    with database.session() as db:
        return list(db.scalars(select(Message).where(Message.org_id == org_id).order_by(Message.id)))


def hello(phone_number_id: str, wamid: str = "wamid.hello", body: str = "Hello, price?") -> dict:
    return envelope(change(phone_number_id, contacts=[{"profile": {"name": "Ayesha"}, "wa_id": CUSTOMER}],
                           messages=[text_message(wamid, CUSTOMER, body)]))


@pytest.mark.parametrize("token_key", ["hub.verify_token", "hub_verify_token"])
def test_handshake_echoes_challenge_only_for_our_verify_token(api, orgs, token_key) -> None:
    acme, _ = orgs
    mode_key = token_key.replace("verify_token", "mode")
    challenge_key = token_key.replace("verify_token", "challenge")
    ok = api.get(WEBHOOK_URL, params={mode_key: "subscribe", token_key: acme.verify_token, challenge_key: "4242"})
    assert (ok.status_code, ok.text) == (200, "4242")
    bad = api.get(WEBHOOK_URL, params={mode_key: "subscribe", token_key: "guess", challenge_key: "4242"})
    assert bad.status_code == 403 and "4242" not in bad.text


def test_missing_signature_is_refused_and_nothing_stored(api, database, orgs) -> None:
    acme, _ = orgs
    response = post_signed(api, hello(acme.phone_number_id), secret=None)
    assert response.status_code == 401
    assert count(database, Message, acme.org_id) == 0


def test_forged_signature_is_refused_and_logged(api, database, orgs, caplog) -> None:
    acme, _ = orgs
    with caplog.at_level(logging.WARNING, logger="pkcrm.webhook"):
        response = post_signed(api, hello(acme.phone_number_id), secret="not-our-secret")
    assert response.status_code == 401
    assert count(database, Message, acme.org_id) == 0
    assert any("invalid X-Hub-Signature-256" in r.getMessage() for r in caplog.records)


def test_signed_malformed_json_is_rejected(api, database, orgs) -> None:
    acme, _ = orgs
    response = post_signed(api, b'{"object": "whatsapp_business_account", "entry": [', acme.app_secret)
    assert response.status_code == 400
    assert count(database, Message, acme.org_id) == 0


def test_oversized_body_is_refused(api, database, orgs, monkeypatch) -> None:
    acme, _ = orgs
    monkeypatch.setenv("PKCRM_WEBHOOK_MAX_BYTES", "2048")
    get_settings.cache_clear()
    try:
        response = post_signed(api, hello(acme.phone_number_id, body="x" * 4096), acme.app_secret)
        chunked = api.post(WEBHOOK_URL, content=iter([b"{" + b" " * 2048, b"}"]))  # no Content-Length
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert response.status_code == 413 and chunked.status_code == 413
    assert count(database, Message, acme.org_id) == 0


def test_unknown_number_is_refused_and_not_stored(api, database, orgs, caplog) -> None:
    acme, globex = orgs
    with caplog.at_level(logging.WARNING, logger="pkcrm.webhook"):
        response = post_signed(api, hello("9999"), acme.app_secret)
    assert response.status_code == 401  # no connected number, so no secret that could have signed it
    assert count(database, Message, acme.org_id) + count(database, Message, globex.org_id) == 0
    assert any("unknown phone_number_id '9999'" in r.getMessage() for r in caplog.records)


def test_another_orgs_secret_cannot_write_into_this_org(api, database, orgs) -> None:
    acme, globex = orgs
    response = post_signed(api, hello(acme.phone_number_id), globex.app_secret)
    assert response.status_code == 401  # the number names acme's secret, and only that one is tried
    assert count(database, Message, acme.org_id) == 0
    assert count(database, Contact, acme.org_id) == 0


@pytest.fixture
def hmac_count(monkeypatch):  # type: ignore[no-untyped-def]
    """How many HMAC-SHA256 signatures of a body the app computes (every check goes through webhook.sign)."""
    from pkcrm_app.channels.whatsapp import webhook

    calls: list[str] = []
    real = webhook.sign

    def counting(body: bytes, app_secret: str) -> str:
        calls.append(app_secret)
        return real(body, app_secret)

    monkeypatch.setattr(webhook, "sign", counting)
    return calls


def test_one_delivery_costs_one_hmac_however_many_organisations(api, database, orgs, hmac_count) -> None:
    acme, _ = orgs
    for n in range(40):
        make_org(database, f"tenant-{n}", str(7000 + n), {})
    assert post_signed(api, hello(acme.phone_number_id), acme.app_secret).status_code == 200
    assert hmac_count == [acme.app_secret]
    hmac_count.clear()
    assert post_signed(api, hello(acme.phone_number_id, "wamid.2"), "forged").status_code == 401
    assert hmac_count == [acme.app_secret]  # a forgery costs one hash too, never one per tenant
    hmac_count.clear()
    assert post_signed(api, hello("9999"), "forged").status_code == 401  # an unknown number: nothing to check
    assert hmac_count == []
    assert count(database, Message, acme.org_id) == 1


def test_a_delivery_naming_numbers_of_two_apps_is_refused_and_logged(api, database, orgs, hmac_count,
                                                                     caplog) -> None:
    acme, globex = orgs
    payload = envelope(change(acme.phone_number_id, messages=[text_message("wamid.a", CUSTOMER, "hi")]),
                       change(globex.phone_number_id, messages=[text_message("wamid.g", CUSTOMER, "hi")]))
    with caplog.at_level(logging.WARNING, logger="pkcrm.webhook"):
        response = post_signed(api, payload, acme.app_secret)
    assert response.status_code == 400 and hmac_count == []
    assert any("numbers of different apps" in r.getMessage() for r in caplog.records)
    assert count(database, Message, acme.org_id) + count(database, Message, globex.org_id) == 0


def test_numbers_sharing_one_app_secret_are_delivered_together(api, database, orgs, hmac_count) -> None:
    acme, _ = orgs
    with database.session() as db:
        register_number(db, org_id=acme.org_id, phone_number_id="1002", app_secret=acme.app_secret,
                        verify_token="verify-second")
    payload = envelope(change(acme.phone_number_id, messages=[text_message("wamid.1", CUSTOMER, "one")]),
                       change("1002", messages=[text_message("wamid.2", "923009999999", "two")]))
    response = post_signed(api, payload, acme.app_secret)
    assert response.status_code == 200 and response.json()["stored"] == 2
    assert hmac_count == [acme.app_secret]


def test_text_message_opens_contact_lead_conversation_and_message(api, database, orgs) -> None:
    acme, globex = orgs
    response = post_signed(api, hello(acme.phone_number_id), acme.app_secret)
    assert response.status_code == 200 and response.json()["stored"] == 1
    with database.session() as db:
        contact = db.scalars(select(Contact).where(Contact.org_id == acme.org_id)).one()
        assert (contact.wa_id, contact.phone_e164, contact.name) == (CUSTOMER, f"+{CUSTOMER}", "Ayesha")
        lead = db.scalars(select(Lead).where(Lead.contact_id == contact.id)).one()
        assert lead.pipeline_id == default_pipeline(db, acme.org_id).id
        assert db.get_one(Stage, lead.stage_id).name == "New"
        conversation = db.scalars(select(Conversation).where(Conversation.contact_id == contact.id)).one()
        assert (conversation.unread_count, conversation.last_message_preview) == (1, "Hello, price?")
        message = db.scalars(select(Message).where(Message.conversation_id == conversation.id)).one()
        assert (message.body, message.type, message.direction.value) == ("Hello, price?", "text", "in")
    assert count(database, Message, globex.org_id) == 0


def test_redelivered_message_is_stored_once(api, database, orgs) -> None:
    acme, _ = orgs
    payload = hello(acme.phone_number_id)
    assert post_signed(api, payload, acme.app_secret).json()["stored"] == 1
    again = post_signed(api, payload, acme.app_secret)
    assert again.status_code == 200 and again.json() == {"stored": 0, "duplicates": 1, "statuses": 0}
    assert count(database, Message, acme.org_id) == 1


def test_second_message_from_same_contact_adds_no_lead(api, database, orgs) -> None:
    acme, _ = orgs
    post_signed(api, hello(acme.phone_number_id, "wamid.1", "first"), acme.app_secret)
    post_signed(api, hello(acme.phone_number_id, "wamid.2", "second"), acme.app_secret)
    assert count(database, Message, acme.org_id) == 2
    assert count(database, Lead, acme.org_id) == 1
    assert count(database, Contact, acme.org_id) == 1


def test_unsupported_type_is_kept_with_raw_payload(api, database) -> None:
    acme = make_org(database, "initech", "3003", {"agent": Role.AGENT})
    poll = {"from": CUSTOMER, "id": "wamid.poll", "timestamp": "1700000000", "type": "unsupported",
            "unsupported": {"type": "poll"}, "errors": [{"code": 131051, "title": "Message type unknown"}]}
    response = post_signed(api, envelope(change(acme.phone_number_id, messages=[poll])), acme.app_secret)
    assert response.status_code == 200
    [message] = stored_messages(database, acme.org_id)
    assert (message.type, message.body, message.raw_payload) == ("unsupported", None, poll)
    with database.session() as db:
        lead_id = db.scalars(select(Lead.id).where(Lead.org_id == acme.org_id)).one()
        thread = lead_thread(db, acme.actor("agent"), lead_id)
    assert [(m.text, m.supported) for m in thread.messages] == [("Unsupported message (poll): Message type unknown",
                                                                  False)]


def test_account_level_changes_are_checked_with_their_business_accounts_secret(api, database, orgs,
                                                                              hmac_count) -> None:
    from pkcrm_app.channels.whatsapp.models import WhatsAppNumber

    acme, _ = orgs
    with database.session() as db:
        db.scalars(select(WhatsAppNumber).where(WhatsAppNumber.org_id == acme.org_id)).one().business_account_id = "777"
    update = {"field": "account_update", "value": {"event": "ACCOUNT_VIOLATION"}}
    known = {"object": "whatsapp_business_account", "entry": [{"id": "777", "changes": [update]}]}
    assert post_signed(api, known, "forged").status_code == 401
    assert hmac_count == [acme.app_secret]
    hmac_count.clear()
    assert post_signed(api, known, acme.app_secret).status_code == 200
    hmac_count.clear()
    unknown = {"object": "whatsapp_business_account", "entry": [{"id": "888", "changes": [update]}]}
    assert post_signed(api, unknown, "forged").status_code == 200  # acknowledged unread: nothing in it is used
    assert hmac_count == []
    empty = {"object": "whatsapp_business_account", "entry": []}
    assert post_signed(api, empty, "forged").status_code == 401
