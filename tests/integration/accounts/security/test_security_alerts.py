"""Security alerts: a new device, a burst of failed logins and unusual export volumes alert the organisation's
admins (in the app and in the audit log); only admins of that organisation see and acknowledge them."""

from __future__ import annotations

import contextlib
import secrets
from datetime import timedelta

import pytest

from pkcrm_app.accounts.identity import mfa, service
from pkcrm_app.accounts.identity.models import AuthSession
from pkcrm_app.accounts.security import alerts
from pkcrm_app.accounts.security.audit_log import AuditFilter, list_events
from pkcrm_app.accounts.security.models import AlertKind
from pkcrm_app.audit import service as audit_service
from pkcrm_app.audit.service import record
from pkcrm_app.core.authz import Role
from pkcrm_app.core.db import Database, utcnow
from pkcrm_app.core.errors import AuthenticationFailed, NotFound, PermissionDenied
from pkcrm_app.core.events import DomainEvent, Topic, subscribe, unsubscribe
from tests.support.data import PASSWORD, OrgFixture, make_org


@pytest.fixture
def acme(database):  # type: ignore[no-untyped-def]
    return make_org(database, "acme", "1001", {"olive": Role.OWNER, "adam": Role.ADMIN, "ann": Role.AGENT})

PAST = 59_000_000 * mfa.TIME_STEP  # a moment long ago: the enrolment code is not reused at login


def sign_in(database: Database, org: OrgFixture, name: str, browser: str, system: str) -> alerts.SecurityAlert | None:
    """A new session row for the user on that device, then the detector, as the login code calls it."""
    user_id = org.users[name][0]
    session_id = secrets.token_hex(32)
    with database.session() as db:
        now = utcnow()
        db.add(AuthSession(id=session_id, user_id=user_id, org_id=org.org_id, created_at=now, last_seen_at=now,
                           expires_at=now + timedelta(hours=1), browser=browser, operating_system=system))
        db.flush()
        return alerts.note_sign_in(db, user_id=user_id, org_id=org.org_id, session_id=session_id, browser=browser,
                                   operating_system=system, ip="192.0.2.7")


def shown(database: Database, org: OrgFixture, name: str = "adam") -> list[alerts.AlertView]:
    with database.session() as db:
        return alerts.list_alerts(db, org.actor(name, Role.ADMIN))[0]


def test_a_new_device_alerts_but_not_the_first_login_nor_a_known_device(database, acme) -> None:  # type: ignore[no-untyped-def]
    assert sign_in(database, acme, "ann", "Chrome 156", "Linux") is None  # first ever sign-in
    assert sign_in(database, acme, "ann", "Chrome 157", "Linux") is None  # same browser family, updated
    assert shown(database, acme) == []
    assert sign_in(database, acme, "ann", "Safari 17", "iOS 17.4") is not None
    [alert] = shown(database, acme)
    assert alert.kind is AlertKind.NEW_DEVICE and alert.user_name == "Ann"
    assert "Ann signed in from a new device: Safari 17 on iOS 17.4" in alert.message
    assert sign_in(database, acme, "ann", "Safari 17", "iOS 17.5") is None  # now a known device
    with database.session() as db:
        audited, _ = list_events(db, acme.actor("adam", Role.ADMIN), AuditFilter(action="security.alert"))
        assert len(audited) == 1 and "new_device" in audited[0].details


def _fail(database: Database, org: OrgFixture, name: str) -> alerts.SecurityAlert | None:
    user_id = org.users[name][0]
    with database.session() as db:
        record(db, action="login.failed", org_id=None, actor_user_id=user_id, details={"reason": "bad credentials"})
        return alerts.note_failed_login(db, user_id=user_id, org_id=org.org_id)


def test_a_burst_of_failed_logins_alerts_once(database, acme) -> None:  # type: ignore[no-untyped-def]
    assert [_fail(database, acme, "ann") is not None for _ in range(4)] == [False] * 4
    assert _fail(database, acme, "ann") is not None  # the fifth within ten minutes
    assert [_fail(database, acme, "ann") for _ in range(3)] == [None] * 3  # still the same burst
    [alert] = shown(database, acme)
    assert alert.kind is AlertKind.FAILED_LOGINS and alert.message.startswith("5 failed sign-ins to Ann's account")
    assert _fail(database, acme, "adam") is None  # another user's failures are counted on their own


def test_old_failures_do_not_count(database, acme, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for _ in range(4):
        _fail(database, acme, "ann")
    later = utcnow() + timedelta(minutes=11)
    monkeypatch.setattr(alerts, "utcnow", lambda: later)
    monkeypatch.setattr(audit_service, "utcnow", lambda: later)
    assert _fail(database, acme, "ann") is None  # four failures eleven minutes ago and one now: no burst
    assert shown(database, acme) == []


def test_unusual_export_volume_alerts(api, database, acme) -> None:  # type: ignore[no-untyped-def]
    with database.session() as db:  # exports need a fresh second factor: Adam has one and enters it at login
        enrolment = mfa.begin_enrolment(db, acme.users["adam"][0])
        mfa.confirm_enrolment(db, acme.users["adam"][0], mfa.code_at(enrolment.secret, PAST), now=PAST)
    api.post("/auth/login", data={"email": "adam@acme.test", "password": PASSWORD})
    api.post("/auth/mfa/verify", data={"code": mfa.code_at(enrolment.secret)})
    for _ in range(5):
        assert api.get("/audit/export.csv").status_code == 200
    assert shown(database, acme) == []  # five exports within the hour are fine
    assert api.get("/audit/export.csv").status_code == 200
    [alert] = shown(database, acme, "olive")
    assert alert.kind is AlertKind.EXPORT_VOLUME and alert.message == "Adam made 6 exports within an hour (latest: " \
        "audit log)"
    api.get("/audit/export.csv")
    assert len(shown(database, acme)) == 1  # one alert per user per hour


def test_alerts_stay_in_their_organisation_and_agents_are_refused(database, acme) -> None:  # type: ignore[no-untyped-def]
    globex = make_org(database, "globex", "2002", {"gus": Role.ADMIN, "gil": Role.AGENT})
    sign_in(database, globex, "gil", "Chrome 156", "Linux")
    sign_in(database, globex, "gil", "Firefox 140", "Windows 10")
    sign_in(database, acme, "ann", "Chrome 156", "Linux")
    sign_in(database, acme, "ann", "Firefox 140", "Windows 10")
    [theirs] = shown(database, globex, "gus")
    [ours] = shown(database, acme)
    assert "Gil" in theirs.message and "Ann" in ours.message
    with database.session() as db:
        assert alerts.unacknowledged_count(db, globex.actor("gus", Role.ADMIN)) == 1
        with pytest.raises(NotFound):
            alerts.acknowledge(db, globex.actor("gus", Role.ADMIN), ours.alert_id)
        for call in (alerts.list_alerts, alerts.unacknowledged_count):
            with pytest.raises(PermissionDenied):
                call(db, acme.actor("ann"))  # type: ignore[operator]
        with pytest.raises(PermissionDenied):
            alerts.acknowledge(db, acme.actor("ann"), ours.alert_id)
        with pytest.raises(PermissionDenied):
            alerts.list_alerts(db, acme.actor("ann", Role.MANAGER))


def test_acknowledging_clears_the_count_and_is_pushed_live(database, acme) -> None:  # type: ignore[no-untyped-def]
    pushed: list[DomainEvent] = []
    subscribe(pushed.extend)
    try:
        sign_in(database, acme, "ann", "Chrome 156", "Linux")
        sign_in(database, acme, "ann", "Firefox 140", "Windows 10")
        assert [(e.org_id, e.topic) for e in pushed] == [(acme.org_id, Topic.ALERTS)]
        admin = acme.actor("adam", Role.ADMIN)
        with database.session() as db:
            [alert], total = alerts.list_alerts(db, admin)
            assert total == 1 and alerts.unacknowledged_count(db, admin) == 1
            alerts.acknowledge(db, admin, alert.alert_id)
        with database.session() as db:
            assert alerts.unacknowledged_count(db, admin) == 0
            [seen], _ = alerts.list_alerts(db, admin)
            assert seen.acknowledged_by == "Adam" and seen.acknowledged_at is not None
            assert alerts.list_alerts(db, admin, unacknowledged_only=True) == ([], 0)
        assert len(pushed) == 2
    finally:
        unsubscribe(pushed.extend)


CHROME_LINUX = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0"


def real_login(database: Database, email: str, password: str, user_agent: str) -> None:
    with database.session() as db, contextlib.suppress(AuthenticationFailed):
        service.login(db, email=email, password=password, ip="198.51.100.9", user_agent=user_agent, hours=1)


def alert_kinds(database: Database, org: OrgFixture) -> list[str]:
    with database.session() as db:
        return [a.kind.value for a in alerts.list_alerts(db, org.actor("adam", Role.ADMIN))[0]]


def test_the_login_itself_raises_new_device_and_failure_burst_alerts(database: Database, acme: OrgFixture) -> None:
    real_login(database, "ann@acme.test", PASSWORD, CHROME_LINUX)
    real_login(database, "ann@acme.test", PASSWORD, CHROME_LINUX)
    assert alert_kinds(database, acme) == []  # first sign-in and the same device again: quiet
    real_login(database, "ann@acme.test", PASSWORD, FIREFOX_WINDOWS)
    assert alert_kinds(database, acme) == ["new_device"]
    for _ in range(5):
        real_login(database, "ann@acme.test", "wrong password 123", CHROME_LINUX)
    assert alert_kinds(database, acme) == ["failed_logins", "new_device"]


def test_a_locked_second_factor_alerts_every_organisation_of_the_person_live(database: Database, acme: OrgFixture,
                                                                             monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The factor is the person's: when wrong codes lock it, the admins of each organisation they belong to are
    alerted (on the bell, live, and in the audit log), in words that name no organisation."""
    globex = make_org(database, "globex", "2002", {"gus": Role.ADMIN})
    ann = acme.users["ann"][0]
    with database.session() as db:
        service.add_member(db, org_id=globex.org_id, user_id=ann, role=Role.AGENT)
        enrolment = mfa.begin_enrolment(db, ann)
        mfa.confirm_enrolment(db, ann, mfa.code_at(enrolment.secret, PAST), now=PAST)
    mailed: list[str] = []
    monkeypatch.setattr("pkcrm_app.accounts.identity.notices.send_mail", lambda to, subject, text: mailed.append(to))
    pushed: list[DomainEvent] = []
    subscribe(pushed.extend)
    try:
        for _ in range(5):
            with database.session() as db:
                assert not mfa.verify_code(db, ann, "abcd-efgh-ijkm", org_id=acme.org_id)  # wrong recovery codes
    finally:
        unsubscribe(pushed.extend)
    assert mailed == ["ann@acme.test"]
    assert sorted((e.org_id, e.topic) for e in pushed) == [(acme.org_id, Topic.ALERTS), (globex.org_id, Topic.ALERTS)]
    for org, admin in ((acme, "adam"), (globex, "gus")):
        with database.session() as db:
            [alert] = alerts.list_alerts(db, org.actor(admin, Role.ADMIN))[0]
            locked, _ = list_events(db, org.actor(admin, Role.ADMIN), AuditFilter(action="mfa.locked"))
        assert alert.kind.value == "mfa_locked" and alert.user_name == "Ann"
        assert "Acme" not in alert.message and "Globex" not in alert.message
        assert len(locked) == 1
