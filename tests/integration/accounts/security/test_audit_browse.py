"""The admin audit screen's query and the CSV export: scoped, filtered, permission-checked, itself audited."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from sqlalchemy import update

from pkcrm_app.accounts.identity import mfa
from pkcrm_app.accounts.identity.models import AuthSession
from pkcrm_app.accounts.security.audit_log import AuditFilter, list_events
from pkcrm_app.audit.service import record
from pkcrm_app.core.authz import Role
from pkcrm_app.core.db import Database, utcnow
from pkcrm_app.core.errors import PermissionDenied
from tests.support.data import PASSWORD, OrgFixture, make_org


@pytest.fixture
def orgs(database):  # type: ignore[no-untyped-def]
    acme = make_org(database, "acme", "1001", {"adam": Role.ADMIN, "ann": Role.AGENT})
    globex = make_org(database, "globex", "2002", {"gus": Role.ADMIN})
    with database.session() as db:
        for n in range(3):
            record(db, action="lead.moved", org_id=acme.org_id, actor_user_id=acme.users["ann"][0], target_type="lead",
                   target_id=n)
        record(db, action="settings.changed", org_id=acme.org_id, actor_user_id=acme.users["adam"][0])
        record(db, action="lead.moved", org_id=globex.org_id, actor_user_id=globex.users["gus"][0])
    return acme, globex


def test_admins_page_through_their_own_organisation_only(database, orgs) -> None:  # type: ignore[no-untyped-def]
    acme, _ = orgs
    with database.session() as db:
        rows, total = list_events(db, acme.actor("adam", Role.ADMIN), AuditFilter(), page=1, page_size=2)
        assert total == 4 and len(rows) == 2 and rows[0].action == "settings.changed"
        moved, total = list_events(db, acme.actor("adam", Role.ADMIN), AuditFilter(action="lead."))
        assert total == 3 and {r.actor for r in moved} == {"ann@acme.test"}
        by_actor, total = list_events(db, acme.actor("adam", Role.ADMIN), AuditFilter(actor_email="ADAM@acme.test"))
        assert total == 1 and by_actor[0].action == "settings.changed"
        _, none = list_events(db, acme.actor("adam", Role.ADMIN), AuditFilter(until=date(2000, 1, 1)))
        assert none == 0
        with pytest.raises(PermissionDenied):
            list_events(db, acme.actor("ann", Role.AGENT), AuditFilter())


PAST = 59_000_000 * mfa.TIME_STEP


def recovery_code(database: Database, org: OrgFixture) -> str:
    """A fresh set of recovery codes for Adam; the first one."""
    with database.session() as db:
        codes = mfa.regenerate_recovery_codes(db, org.users["adam"][0])
        db.commit()
    return codes[0]


def test_csv_export_needs_an_admin_session_and_is_audited(api, database, orgs) -> None:  # type: ignore[no-untyped-def]
    acme, _ = orgs
    assert api.get("/audit/export.csv").status_code == 401
    api.post("/auth/login", data={"email": "ann@acme.test", "password": PASSWORD})
    assert api.get("/audit/export.csv").status_code == 403
    api.post("/auth/logout")
    with database.session() as db:
        enrolment = mfa.begin_enrolment(db, acme.users["adam"][0])
        mfa.confirm_enrolment(db, acme.users["adam"][0], mfa.code_at(enrolment.secret, PAST), now=PAST)
        db.commit()
    api.post("/auth/login", data={"email": "adam@acme.test", "password": PASSWORD})
    assert api.get("/audit/export.csv").status_code == 401  # the second factor is still missing
    api.post("/auth/mfa/verify", data={"code": mfa.code_at(enrolment.secret)})
    with database.session() as db:  # the login's code gets too old for a sensitive action
        db.execute(update(AuthSession).values(mfa_verified_at=utcnow() - timedelta(minutes=10)))
        db.commit()
    refused = api.get("/audit/export.csv")
    assert refused.status_code == 403 and "second factor" in refused.text
    assert api.post("/auth/step-up", data={"code": recovery_code(database, acme)}).json() == {"ok": True}
    assert api.get("/audit/export.csv?since=yesterday").status_code == 400
    response = api.get("/audit/export.csv?action=lead.")
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["action"] for r in rows] == ["lead.moved"] * 3  # the other organisation's move is not there
    with database.session() as db:
        exported, _ = list_events(db, acme.actor("adam", Role.ADMIN), AuditFilter(action="audit.exported"))
    assert len(exported) == 1 and '"action": "lead."' in exported[0].details


def test_csv_cells_that_start_like_a_formula_are_written_as_text(database, orgs) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from pkcrm_app.accounts.security.audit_log import export_csv

    acme, _ = orgs
    hostile = ["=HYPERLINK(\"https://evil.example\",\"open\")", "+1+2", "-2+3", "@SUM(A1)", "\tcmd", "\r=1+1"]
    with database.session() as db:
        for n, device in enumerate(hostile):
            record(db, action="lead.moved", org_id=acme.org_id, actor_user_id=acme.users["ann"][0],
                   target_type="lead", target_id=100 + n, device=device, details={"note": "=1+1"})
        db.commit()
        admin = replace(acme.actor("adam", Role.ADMIN), stepped_up=True)
        text = "".join(export_csv(db, admin, AuditFilter(action="lead.moved")))
    rows = list(csv.DictReader(io.StringIO(text)))
    devices = {r["device"] for r in rows if r["device"]}
    assert devices == {"'" + d for d in hostile}
    assert all(not r[k].startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for k in r)


def test_every_csv_the_app_writes_goes_through_the_one_safe_writer() -> None:
    from pathlib import Path

    package = Path(__file__).resolve().parents[4] / "pkcrm_app"
    writers = {str(p.relative_to(package)) for p in package.rglob("*.py") if "csv.writer(" in p.read_text("utf-8")
               or "csv.DictWriter(" in p.read_text("utf-8")}
    assert writers == {"core/spreadsheet.py"}
