"""One test per real Cloud API webhook body (../shared/data/whatsapp/webhooks): each is stored as sent."""

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

from pkcrm_app.core.crypto import MasterKeys
from pkcrm_app.core.db import Database, set_database
from pkcrm_app.core.migrate import upgrade_to_head
from pkcrm_app.inbox.models import Message
from pkcrm_app.routes import build_api
from pkcrm_app.routes.webhook import number_directory
from tests.conftest import TEST_MASTER_KEY, create_pg_database, drop_pg_database, postgres_reachable
from tests.support.data import SHARED_DATA, make_org
from tests.support.webhooks import post_signed

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


def expected_messages(payload: Any) -> dict[str, str]:
    """wa message id -> type of every inbound message that has an id, read straight from the JSON."""
    found: dict[str, str] = {}
    for entry in payload.get("entry", []):
        for change in entry.get("changes", []):
            if change.get("field") != "messages":
                continue
            for message in change.get("value", {}).get("messages", []):
                if isinstance(message.get("id"), str) and message["id"]:
                    found[message["id"]] = message.get("type") or "unknown"
    return found


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
