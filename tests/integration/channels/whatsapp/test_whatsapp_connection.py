"""WhatsApp connection settings: who may change them, step-up for secrets, secrets encrypted and write-only,
the "test connection" answer and the template sync, against the local Cloud API simulator."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text, update

from pkcrm_app.accounts.identity.models import AuthSession
from pkcrm_app.audit.models import AuditEvent
from pkcrm_app.channels.whatsapp import connection, templates
from pkcrm_app.channels.whatsapp.models import WhatsAppNumber
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import InvalidInput, PermissionDenied, StepUpRequired
from tests.support.data import PASSWORD
from tests.support.outbox import TOKEN, WABA, client_factory, make_shop, sim_state, simulator

NEW_TOKEN = "EAAG-new-token-that-must-never-be-shown-9876"


@pytest.fixture
def shop(database):  # type: ignore[no-untyped-def]
    return make_shop(database)


def change(db, actor, shop, **secrets):  # type: ignore[no-untyped-def]
    return connection.save_number(db, actor, number_id=shop.number_id, phone_number_id=shop.org.phone_number_id,
                                  business_account_id=WABA, display_phone_number="+92 300 0000001", **secrets)


def test_only_integration_managers_see_or_change_the_connection(database, shop) -> None:
    with database.session() as db:
        with pytest.raises(PermissionDenied):
            connection.list_numbers(db, shop.agent())
        with pytest.raises(PermissionDenied):
            change(db, shop.agent(), shop)
        saved = change(db, shop.admin(), shop)  # no secret changed: no step-up needed
    assert saved.display_phone_number == "+92 300 0000001"


def test_changing_a_secret_needs_a_step_up_and_is_audited_without_the_secret(database, shop) -> None:
    with database.session() as db:
        with pytest.raises(StepUpRequired):
            change(db, shop.admin(), shop, access_token=NEW_TOKEN)
        db.rollback()
        change(db, shop.admin(stepped_up=True), shop, access_token=NEW_TOKEN)
        events = list(db.scalars(select(AuditEvent).where(AuditEvent.action == "whatsapp.number_saved")))
    assert events[-1].details["secrets_changed"] == ["access_token"]
    assert NEW_TOKEN not in repr([e.details for e in events])


def test_secrets_are_encrypted_at_rest_and_shown_by_their_last_four_characters_only(database, shop) -> None:
    with database.session() as db:
        view = change(db, shop.admin(stepped_up=True), shop, access_token=NEW_TOKEN, app_secret="app-secret-abcdefgh")
        raw = db.execute(text("SELECT access_token, app_secret FROM whatsapp_number")).one()
        listed = connection.list_numbers(db, shop.admin())
    assert view.access_token_hint == "…9876" and view.app_secret_hint == "…efgh"
    assert NEW_TOKEN not in repr(listed) and "app-secret-abcdefgh" not in repr(listed)
    assert NEW_TOKEN.encode() not in bytes(raw[0]) and b"app-secret" not in bytes(raw[1])


def test_an_empty_secret_keeps_the_stored_one_and_a_new_number_needs_all(database, shop) -> None:
    with database.session() as db:
        change(db, shop.admin(stepped_up=True), shop, access_token="")
        assert db.scalars(select(WhatsAppNumber.access_token)).one() == TOKEN
        with pytest.raises(InvalidInput, match="needs its access token"):
            connection.save_number(db, shop.admin(stepped_up=True), number_id=None, phone_number_id="3003",
                                   business_account_id="", app_secret="s", verify_token="v")


def test_the_settings_route_refuses_secrets_without_step_up_and_never_echoes_them(api, database, shop) -> None:
    api.post("/auth/login", data={"email": shop.org.users["ada"][1], "password": PASSWORD})
    form = {"number_id": str(shop.number_id), "phone_number_id": shop.org.phone_number_id,
            "business_account_id": WABA, "access_token": NEW_TOKEN}
    refused = api.post("/settings/whatsapp/save", data=form, headers={"Accept": "application/json"})
    assert refused.status_code == 403 and refused.json()["step_up"] is True and NEW_TOKEN not in refused.text
    with database.session() as db:
        db.execute(update(AuthSession).values(mfa_verified_at=utcnow()))
    saved = api.post("/settings/whatsapp/save", data=form, headers={"Accept": "application/json"})
    assert saved.json()["ok"] and NEW_TOKEN not in saved.text
    with database.session() as db:
        assert db.scalars(select(WhatsAppNumber.access_token)).one() == NEW_TOKEN
    other = api.post("/settings/whatsapp/save", data=form, headers={"Origin": "https://evil.example"})
    assert other.status_code == 403


def test_test_connection_says_in_plain_words_what_whatsapp_answered(database, shop) -> None:
    with simulator(sim_state(shop)) as url, database.session() as db:
        ok = connection.check_connection(db, shop.admin(), shop.number_id, client_factory=client_factory(url))
        db.execute(update(WhatsAppNumber).values(access_token="wrong-token"))
        bad = connection.check_connection(db, shop.admin(), shop.number_id, client_factory=client_factory(url))
    assert ok == "Connected: +1 555 000 0000 (PK Demo Shop), quality rating GREEN."
    assert bad == "Connection failed: WhatsApp refused the access token (expired or wrong)."


def test_templates_are_synced_from_the_cloud_api(database, shop) -> None:
    with simulator(sim_state(shop)) as url, database.session() as db:
        assert templates.sync_templates(db, shop.admin(), shop.number_id, client_factory=client_factory(url)) == 3
        assert templates.sync_templates(db, shop.admin(), shop.number_id, client_factory=client_factory(url)) == 3
        found = {t.name: t for t in templates.list_templates(db, shop.agent())}
    assert sorted(found) == ["follow_up", "hello_world", "order_update"]
    assert found["order_update"].buttons == ["Thanks", "Call me"] and found["hello_world"].variables == {"1": "name"}
