"""The owner deletes the organisation: its data goes, the other organisation is untouched, the audit log stays."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from pkcrm_app.accounts.identity import service
from pkcrm_app.accounts.identity.models import Membership, Organisation, User
from pkcrm_app.audit.models import AuditEvent
from pkcrm_app.audit.service import verify_chain
from pkcrm_app.core.authz import Actor, Role
from pkcrm_app.core.db import Database
from pkcrm_app.core.errors import AuthenticationFailed, InvalidInput, PermissionDenied, StepUpRequired
from pkcrm_app.core.keyring import DataKey, organisation_scope
from pkcrm_app.crm.models import Contact, Lead
from pkcrm_app.flows import registry
from pkcrm_app.flows.organisation_deletion import delete_organisation
from pkcrm_app.inbox.models import Message
from pkcrm_app.settings import get_settings
from pkcrm_app.storage.backend import BlobNotFound
from pkcrm_app.storage.store import blob_store
from tests.support.data import PASSWORD, OrgFixture, make_org
from tests.support.webhooks import change, envelope, post_signed, text_message


@pytest.fixture
def orgs(database: Database, api) -> tuple[OrgFixture, OrgFixture]:  # type: ignore[no-untyped-def]
    acme = make_org(database, "acme", "1001", {"olga": Role.OWNER, "adam": Role.ADMIN, "ann": Role.AGENT})
    globex = make_org(database, "globex", "2002", {"gina": Role.OWNER})
    with database.session() as db:  # Ann also works for Globex: she keeps that account
        db.add(Membership(org_id=globex.org_id, user_id=acme.users["ann"][0], role=Role.AGENT))
    for org, wa_id in ((acme, "447700900001"), (globex, "447700900002")):
        message = text_message(f"wamid.{wa_id}", wa_id, "Hello, is this in stock?")
        response = post_signed(api, envelope(change(org.phone_number_id, messages=[message])), org.app_secret)
        assert response.status_code == 200
    return acme, globex


def count(database: Database, model: type, org_id: int) -> int:
    with database.session() as db:
        return db.scalar(select(func.count()).select_from(model).where(model.org_id == org_id)) or 0  # type: ignore[attr-defined]


def test_only_the_owner_with_a_fresh_factor_and_the_right_name_deletes(database: Database, orgs) -> None:  # type: ignore[no-untyped-def]
    acme, _ = orgs
    with database.session() as db:
        with pytest.raises(PermissionDenied):
            delete_organisation(db, Actor(acme.users["adam"][0], acme.org_id, Role.ADMIN, stepped_up=True),
                                confirm_name="Acme")
        with pytest.raises(StepUpRequired):
            delete_organisation(db, acme.actor("olga", Role.OWNER), confirm_name="Acme")
        with pytest.raises(InvalidInput):
            delete_organisation(db, Actor(acme.users["olga"][0], acme.org_id, Role.OWNER, stepped_up=True),
                                confirm_name="Acme Ltd")
    assert count(database, Lead, acme.org_id) == 1


def test_deleting_removes_every_row_of_the_organisation_and_nothing_else(database: Database, orgs) -> None:  # type: ignore[no-untyped-def]
    acme, globex = orgs
    with database.session() as db:
        ann_session = service.login(db, email="ann@acme.test", password=PASSWORD, ip="", user_agent="", hours=1)
    owner = Actor(acme.users["olga"][0], acme.org_id, Role.OWNER, stepped_up=True)
    with database.session() as db:
        removed = delete_organisation(db, owner, confirm_name="Acme")
    assert removed["lead"] == 1 and removed["message"] == 1 and removed["people_forgotten"] == 2
    for model in (Lead, Contact, Message, Membership):
        assert count(database, model, acme.org_id) == 0
        assert count(database, model, globex.org_id) >= 1
    with database.session() as db:
        assert service.resolve_session(db, ann_session.token) is None
        org = db.get(Organisation, acme.org_id)
        assert org is not None and org.name == "Deleted organisation"
        olga = db.get(User, acme.users["olga"][0])
        assert olga is not None and olga.email.endswith("@deleted.invalid") and not olga.is_active
        ann = db.get(User, acme.users["ann"][0])
        assert ann is not None and ann.email == "ann@acme.test"  # still a member of Globex
        assert db.scalars(select(AuditEvent.action).where(AuditEvent.org_id == acme.org_id)
                          .order_by(AuditEvent.id.desc())).first() == "organisation.deleted"
        assert verify_chain(db, acme.org_id).altered_entry_id is None
    with database.session() as db, pytest.raises(AuthenticationFailed):
        service.login(db, email="olga@acme.test", password=PASSWORD, ip="", user_agent="", hours=1)
    with database.session() as db:  # Ann signs in to Globex now
        opened = service.login(db, email="ann@acme.test", password=PASSWORD, ip="", user_agent="", hours=1)
        info = service.resolve_session(db, opened.token)
    assert info is not None and info.actor.org_id == globex.org_id


def test_the_organisations_files_in_every_scope_go_after_the_commit(database: Database, orgs, tmp_path,  # type: ignore[no-untyped-def]
                                                                    monkeypatch) -> None:
    acme, globex = orgs
    monkeypatch.setenv("PKCRM_INSTANCE_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        store = blob_store(database.keyring)
        for org in (acme, globex):
            for scope in registry.ORGANISATION_FILES:
                store.put(org.org_id, scope, "1.bin", f"{scope.name} of {org.org_id}".encode())
        owner = Actor(acme.users["olga"][0], acme.org_id, Role.OWNER, stepped_up=True)
        with database.sessions() as db:
            delete_organisation(db, owner, confirm_name="Acme")
            assert store.get(acme.org_id, registry.ORGANISATION_FILES[0], "1.bin")  # nothing goes before the commit
            db.commit()
        for scope in registry.ORGANISATION_FILES:
            with pytest.raises(BlobNotFound):
                store.get(acme.org_id, scope, "1.bin")
            assert store.get(globex.org_id, scope, "1.bin") == f"{scope.name} of {globex.org_id}".encode()
        with database.session() as db:  # the organisation's blob key is erased too (a copy elsewhere stays sealed)
            assert db.scalar(select(func.count()).select_from(DataKey).where(
                DataKey.scope == organisation_scope(acme.org_id))) == 0
    finally:
        monkeypatch.delenv("PKCRM_INSTANCE_DIR")
        get_settings.cache_clear()
