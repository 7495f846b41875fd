"""Pure webhook parsing: the signature check and envelopes the Cloud API sends."""

from __future__ import annotations

from datetime import datetime

import pytest

from pkcrm_app.channels.whatsapp.webhook import WebhookFormatError, parse_envelope, signature_matches
from tests.support.webhooks import change, envelope, status, text_message

META_VECTOR = "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"


def test_signature_matches_meta_test_vector() -> None:
    assert signature_matches(b"test", META_VECTOR, "secret")


@pytest.mark.parametrize(("body", "header", "secret"), [
    (b"test", META_VECTOR, "other secret"),
    (b"test ", META_VECTOR, "secret"),
    (b"test", META_VECTOR.removeprefix("sha256="), "secret"),
    (b"test", "sha1=" + META_VECTOR[7:], "secret"),
    (b"test", "", "secret"),
    (b"test", None, "secret"),
])
def test_signature_mismatch_is_refused(body: bytes, header: str | None, secret: str) -> None:
    assert not signature_matches(body, header, secret)


def test_text_message_is_parsed() -> None:
    contacts = [{"profile": {"name": "Ayesha"}, "wa_id": "923001234567"}]
    payload = envelope(change("PN1", contacts=contacts,
                              messages=[text_message("wamid.1", "923001234567", "Is it available?", 1700000000)]))
    [batch] = parse_envelope(payload)
    assert batch.phone_number_id == "PN1"
    [message] = batch.messages
    assert (message.wa_message_id, message.sender_id, message.sender_name) == ("wamid.1", "923001234567", "Ayesha")
    assert (message.type, message.text) == ("text", "Is it available?")
    assert message.timestamp == datetime(2023, 11, 14, 22, 13, 20)
    assert batch.statuses == [] and batch.skipped == []


def test_two_changes_in_one_entry_give_two_batches() -> None:
    payload = envelope(change("PN1", messages=[text_message("wamid.1", "111", "one")]),
                       change("PN2", messages=[text_message("wamid.2", "222", "two")]))
    batches = parse_envelope(payload)
    assert [(b.phone_number_id, [m.text for m in b.messages]) for b in batches] == [("PN1", ["one"]), ("PN2", ["two"])]


def test_status_list_is_parsed_in_order_and_lower_cased() -> None:
    errors = [{"code": 131053, "title": "Media upload error"}]
    payload = envelope(change("PN1", statuses=[status("wamid.a", "DELIVERED"),
                                               status("wamid.b", "failed", errors=errors)]))
    [batch] = parse_envelope(payload)
    assert [(s.wa_message_id, s.status) for s in batch.statuses] == [("wamid.a", "delivered"), ("wamid.b", "failed")]
    assert batch.statuses[1].errors == errors
    assert batch.messages == []


def test_bsuid_only_sender_is_taken_from_the_contact() -> None:
    message = text_message("wamid.1", "", "hi")
    del message["from"]
    payload = envelope(change("PN1", contacts=[{"profile": {"name": "Bilal"}, "user_id": "US.123"}],
                              messages=[message]))
    [batch] = parse_envelope(payload)
    [parsed] = batch.messages
    assert (parsed.sender_id, parsed.sender_name) == ("US.123", "Bilal")


def test_fields_other_than_messages_are_ignored() -> None:
    payload = envelope(change("PN1", field="account_update", messages=[text_message("wamid.1", "111", "x")]),
                       change("PN1", messages=[text_message("wamid.2", "111", "kept")]))
    [batch] = parse_envelope(payload)
    assert [m.wa_message_id for m in batch.messages] == ["wamid.2"]


def test_malformed_items_are_skipped_and_the_rest_kept() -> None:
    no_id = text_message("", "111", "lost")
    del no_id["id"]
    payload = envelope(change("PN1", messages=[no_id, "not an object", text_message("wamid.2", "111", "kept")],
                              statuses=[{"id": "wamid.9"}, status("wamid.3", "read")]))
    [batch] = parse_envelope(payload)
    assert [m.text for m in batch.messages] == ["kept"]
    assert [s.wa_message_id for s in batch.statuses] == ["wamid.3"]
    assert len(batch.skipped) == 3
    assert "message without an id" in batch.skipped


def test_change_without_phone_number_id_is_dropped() -> None:
    payload = envelope(change("", messages=[text_message("wamid.1", "111", "x")]))
    assert parse_envelope(payload) == []


@pytest.mark.parametrize("payload", [
    None, [], "text", {"object": "page", "entry": []}, {"entry": []},
])
def test_non_envelope_raises(payload: object) -> None:
    with pytest.raises(WebhookFormatError, match="not a whatsapp_business_account webhook"):
        parse_envelope(payload)
