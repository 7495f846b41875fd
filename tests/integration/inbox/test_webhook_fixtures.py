"""One test per real Cloud API webhook body (../shared/data/whatsapp/webhooks): each is stored as sent, with its
kind-specific parts (media, reactions, replies, forwarding, referrals), and shown in the conversation pane as
webhook_fixture_shown.SHOWN says; files without customer messages are acknowledged and store nothing."""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from pkcrm_app.core.authz import Actor, Role
from pkcrm_app.core.crypto import MasterKeys
from pkcrm_app.core.db import Database, set_database
from pkcrm_app.core.migrate import upgrade_to_head
from pkcrm_app.crm.models import Lead
from pkcrm_app.http import build_api
from pkcrm_app.http.webhook import number_directory
from pkcrm_app.inbox.models import MediaState, Message, MessageMedia
from pkcrm_app.inbox.service import lead_thread
from tests.conftest import TEST_MASTER_KEY, create_pg_database, drop_pg_database, postgres_reachable
from tests.integration.inbox.webhook_fixture_shown import LEAD_SOURCES, SHOWN
from tests.support.data import SHARED_DATA, make_org
from tests.support.webhooks import post_signed

MEDIA = ("image", "video", "audio", "document", "sticker")

FIXTURE_DIRS = ("pywa", "netflie-whatsapp-cloud-api")
FILES = sorted(p for d in FIXTURE_DIRS for p in (SHARED_DATA / "webhooks" / d).glob("*.json"))
PARAMS = [pytest.param(p, id=f"{p.parent.name}/{p.name}") for p in FILES] or [
    pytest.param(None, marks=pytest.mark.skip(reason=f"no Cloud API fixture files under {SHARED_DATA / 'webhooks'}"))
]
_numbers = itertools.count(500_000)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_database(request, tmp_path_factory) -> Iterator[Database]:  # type: ignore[no-untyped-def]
    """One migrated database per backend for all files; each test gets its own organisation in it."""
    if request.param == "postgres":
        reason = postgres_reachable()
        if reason:
            pytest.skip(reason)
        url = create_pg_database()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('fixtures') / 'test.db'}"
    upgrade_to_head(url)
    database = Database(url, MasterKeys.parse(TEST_MASTER_KEY))
    database.keyring.ensure_active_key()
    yield database
    database.dispose()
    if request.param == "postgres":
        drop_pg_database(url)


def repoint(payload: Any, phone_number_id: str) -> Any:
    """The same body addressed to our test number (the fixtures carry Meta's or placeholder ids)."""
    payload = copy.deepcopy(payload)
    for entry in payload.get("entry", []):
        for change in entry.get("changes", []):
            metadata = change.get("value", {}).get("metadata")
            if isinstance(metadata, dict):
                metadata["phone_number_id"] = phone_number_id
    return payload


def raw_messages(payload: Any) -> dict[str, dict[str, Any]]:
    """wa message id -> the inbound message object, for every message that has an id, straight from the JSON."""
    found: dict[str, dict[str, Any]] = {}
    for entry in payload.get("entry", []):
        for change in entry.get("changes", []):
            if change.get("field") != "messages":
                continue
            for message in change.get("value", {}).get("messages", []):
                if isinstance(message.get("id"), str) and message["id"]:
                    found[message["id"]] = message
    return found


def expected_messages(payload: Any) -> dict[str, str]:
    """wa message id -> type of every inbound message that has an id."""
    return {wamid: message.get("type") or "unknown" for wamid, message in raw_messages(payload).items()}


def expected_parts(raw: dict[str, Any]) -> dict[str, Any]:
    """The kind-specific columns a message must be stored with, read from its JSON independently of the parser."""
    msg_type, context = raw.get("type"), raw.get("context") or {}
    reaction = raw.get("reaction") or {}
    forwarded = ("frequently" if context.get("frequently_forwarded")
                 else "forwarded" if context.get("forwarded") else None)
    return {
        "context_wamid": context.get("id"),
        "forwarded": forwarded,
        "reacts_to": reaction.get("message_id") if msg_type == "reaction" else None,
        "emoji": reaction.get("emoji", "") if msg_type == "reaction" else None,
        "media_id": (raw.get(msg_type) or {}).get("id") if msg_type in MEDIA else None,
        "referral_headline": (raw.get("referral") or {}).get("headline"),
    }


def stored_parts(message: Message, media: MessageMedia | None) -> dict[str, Any]:
    content = message.content or {}
    return {
        "context_wamid": message.context_wamid,
        "forwarded": message.forwarded,
        "reacts_to": message.reacts_to,
        "emoji": content.get("emoji") if message.type == "reaction" else None,
        "media_id": media.media_id if media is not None else None,
        "referral_headline": (content.get("referral") or {}).get("headline"),
    }


def shown_bubbles(database: Database, org_id: int) -> tuple[list[tuple[str, str, dict[str, str]]], list[str]]:
    """What the owner's conversation pane shows for each lead, and the leads' sources."""
    actor = Actor(user_id=None, org_id=org_id, role=Role.OWNER)
    extras = ("quote", "forwarded", "reactions", "referral", "map_url", "media_note", "file_label")
    shown, sources = [], []
    with database.session() as db:
        for lead in db.scalars(select(Lead).where(Lead.org_id == org_id).order_by(Lead.id)):
            sources.append(lead.source)
            for m in lead_thread(db, actor, lead.id).messages:
                shown.append((m.kind, m.text, {k: getattr(m, k) for k in extras if getattr(m, k)}))
    return shown, sources


@pytest.mark.parametrize("path", PARAMS)
def test_cloud_api_fixture_is_stored_once_with_its_type(shared_database: Database, path: Path) -> None:
    number = str(next(_numbers))
    org = make_org(shared_database, f"org-{number}", number, {})
    payload = repoint(json.loads(path.read_text()), number)
    set_database(shared_database)
    number_directory.cache_clear()
    try:
        with TestClient(build_api()) as client:
            response = post_signed(client, payload, org.app_secret)
    finally:
        number_directory.cache_clear()
        set_database(None)
    assert response.status_code == 200, response.text
    with shared_database.session() as db:
        rows = db.execute(select(Message.wa_message_id, Message.type).where(Message.org_id == org.org_id)).all()
        assert sorted(rows) == sorted(expected_messages(payload).items())
        media = {m.message_id: m for m in db.scalars(select(MessageMedia).where(MessageMedia.org_id == org.org_id))}
        for wamid, raw in raw_messages(payload).items():
            message = db.scalars(select(Message).where(Message.org_id == org.org_id,
                                                       Message.wa_message_id == wamid)).one()
            assert stored_parts(message, media.get(message.id)) == expected_parts(raw), wamid
            if message.id in media:
                assert media[message.id].state == MediaState.FAILED  # fetched after the answer; no access token
    name = f"{path.parent.name}/{path.name}"
    assert name in SHOWN, f"{name}: add what the pane shows for it to webhook_fixture_shown.SHOWN"
    shown, sources = shown_bubbles(shared_database, org.org_id)
    assert shown == [(kind, text, extras) for kind, text, extras in SHOWN[name]]
    assert set(sources) <= {LEAD_SOURCES.get(name, "whatsapp")}
    if name in LEAD_SOURCES:
        assert sources == [LEAD_SOURCES[name]]
