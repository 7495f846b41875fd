"""The second factor in real logins: code step, forced enrolment by policy, step-up before sensitive actions."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity import mfa, mfa_login, second_factor, service
from pkcrm_app.accounts.identity.models import AuthSession, MfaFactor, Organisation, session_id_for
from pkcrm_app.accounts.organisations import members
from pkcrm_app.accounts.organisations import settings as organisation_settings
from pkcrm_app.accounts.security import alerts
from pkcrm_app.accounts.security.audit_log import AuditFilter, export_csv
from pkcrm_app.accounts.security.models import AlertKind
from pkcrm_app.audit.models import AuditEvent
from pkcrm_app.core.authz import Actor, Role
from pkcrm_app.core.db import Database, utcnow
from pkcrm_app.core.errors import AuthenticationFailed, InvalidInput, PermissionDenied, StepUpRequired
from tests.support.data import PASSWORD, OrgFixture, make_org
from tests.support.smtp import Mailbox, running_mailbox

PAST = 59_000_000 * mfa.TIME_STEP  # enrolment confirmed long ago, so today's codes are never replays


@pytest.fixture
def acme(database: Database) -> OrgFixture:
    people = {"olga": Role.OWNER, "adam": Role.ADMIN, "mark": Role.MANAGER, "ann": Role.AGENT}
    return make_org(database, "acme", "1001", people)


def enrol(database: Database, user_id: int) -> tuple[str, list[str]]:
    with database.session() as db:
        secret = mfa.begin_enrolment(db, user_id).secret
        codes = mfa.confirm_enrolment(db, user_id, mfa.code_at(secret, PAST), now=PAST)
        db.commit()
    return secret, codes


def sign_in(database: Database, email: str) -> service.OpenedSession:
    with database.session() as db:
        return service.login(db, email=email, password=PASSWORD, ip="192.0.2.7", user_agent="pytest", hours=8)


def refused(database: Database, attempt: Callable[[Session], object], error: type[Exception] = InvalidInput,
            match: str | None = None) -> None:
    """One attempt in a transaction of its own, as the routes run them: a refused code still counts (committed)."""
    with pytest.raises(error, match=match), database.session() as db:
        attempt(db)


def resolve(database: Database, token: str) -> service.SessionInfo | None:
    with database.session() as db:
        return service.resolve_session(db, token)


def set_policy(database: Database, org: OrgFixture, policy: str) -> None:
    owner = org.actor("olga", Role.OWNER)
    with database.session() as db:
        current = organisation_settings.read_settings(db, owner)
        organisation_settings.update_settings(db, owner, replace(current, mfa_policy=policy))
        db.commit()


def test_without_a_factor_or_policy_the_password_opens_the_board(database: Database, acme: OrgFixture) -> None:
    opened = sign_in(database, "ann@acme.test")
    assert opened.next_url == "/board"
    info = resolve(database, opened.token)
    assert info is not None and not info.actor.stepped_up


def test_an_enrolled_user_needs_a_code_and_the_session_id_rotates(database: Database, acme: OrgFixture) -> None:
    secret, _ = enrol(database, acme.users["ann"][0])
    waiting = sign_in(database, "ann@acme.test")
    assert waiting.next_url == "/login/verify"
    assert resolve(database, waiting.token) is None  # the password alone opens nothing
    with database.session() as db:
        assert mfa_login.waiting_for(db, waiting.token) == second_factor.MfaState.CODE
        with pytest.raises(InvalidInput):
            mfa_login.finish_with_code(db, waiting.token, "000000" if mfa.code_at(secret) != "000000" else "111111")
        opened = mfa_login.finish_with_code(db, waiting.token, mfa.code_at(secret))
    assert opened.token != waiting.token and opened.next_url == "/board"
    info = resolve(database, opened.token)
    assert info is not None and info.actor.stepped_up  # the login's code counts as a fresh second factor
    with database.session() as db:
        old = db.get(AuthSession, session_id_for(waiting.token))
        assert old is not None and old.revoked_at is not None  # the waiting id is dead
        actions = db.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-3:] == ["mfa.failed", "mfa.verified", "login.succeeded"]


def test_five_wrong_codes_end_the_waiting_login(database: Database, acme: OrgFixture, mailbox: Mailbox) -> None:
    secret, _ = enrol(database, acme.users["ann"][0])
    waiting = sign_in(database, "ann@acme.test")
    wrong = "123456" if mfa.code_at(secret) != "123456" else "654321"
    with database.session() as db:
        for _ in range(4):
            with pytest.raises(InvalidInput):
                mfa_login.finish_with_code(db, waiting.token, wrong)
        with pytest.raises(AuthenticationFailed):
            mfa_login.finish_with_code(db, waiting.token, wrong)
        with pytest.raises(AuthenticationFailed):  # even the right code is too late now
            mfa_login.finish_with_code(db, waiting.token, mfa.code_at(secret))


def test_a_waiting_login_expires_after_ten_minutes(database: Database, acme: OrgFixture) -> None:
    secret, _ = enrol(database, acme.users["ann"][0])
    waiting = sign_in(database, "ann@acme.test")
    with database.session() as db:
        db.execute(update(AuthSession).where(AuthSession.id == session_id_for(waiting.token))
                   .values(created_at=utcnow() - timedelta(minutes=11)))
        db.commit()
        with pytest.raises(AuthenticationFailed):
            mfa_login.finish_with_code(db, waiting.token, mfa.code_at(secret))


def test_policy_for_admins_leads_them_through_enrolment(database: Database, acme: OrgFixture) -> None:
    set_policy(database, acme, "admins")
    assert sign_in(database, "ann@acme.test").next_url == "/board"  # agents are not covered
    waiting = sign_in(database, "adam@acme.test")
    assert waiting.next_url == "/mfa/setup"
    assert resolve(database, waiting.token) is None
    with database.session() as db:
        enrolment = mfa_login.begin_enrolment(db, waiting.token)
        with pytest.raises(InvalidInput):
            mfa_login.confirm_enrolment(db, waiting.token, "12345")
        codes, opened = mfa_login.confirm_enrolment(db, waiting.token, mfa.code_at(enrolment.secret))
    assert len(codes) == 10 and opened is not None and opened.token != waiting.token
    assert resolve(database, opened.token) is not None
    with database.session() as db:
        org = db.get(Organisation, acme.org_id)
        assert org is not None and org.mfa_policy == "admins"
        change = db.scalars(select(AuditEvent).where(AuditEvent.action == "settings.changed")).one()
        assert change.details == {"setting": "mfa_policy", "from": "off", "to": "admins"}


def test_only_settings_managers_choose_the_policy(database: Database, acme: OrgFixture) -> None:
    owner = acme.actor("olga", Role.OWNER)
    with database.session() as db:
        current = organisation_settings.read_settings(db, owner)
        with pytest.raises(PermissionDenied):
            organisation_settings.update_settings(db, acme.actor("ann"), replace(current, mfa_policy="everyone"))
        with pytest.raises(PermissionDenied):
            organisation_settings.read_settings(db, acme.actor("mark", Role.MANAGER))
        for bad in ({"mfa_policy": "sometimes"}, {"time_zone": "Mars/Olympus"}, {"name": " "},
                    {"access_review_interval_days": 7}):
            with pytest.raises(InvalidInput):
                organisation_settings.update_settings(db, owner, replace(current, **bad))  # type: ignore[arg-type]
        assert organisation_settings.update_settings(
            db, owner, replace(current, time_zone="Asia/Karachi", agents_see_all=True)) == 2
        db.commit()
        assert organisation_settings.read_settings(db, owner).time_zone == "Asia/Karachi"


def test_sensitive_actions_ask_for_a_fresh_second_factor(database: Database, acme: OrgFixture) -> None:
    _, recovery = enrol(database, acme.users["olga"][0])
    opened = sign_in(database, "olga@acme.test")
    with database.session() as db:
        db.execute(update(AuthSession).where(AuthSession.id == session_id_for(opened.token))
                   .values(mfa_state="done", mfa_verified_at=utcnow() - timedelta(minutes=6)))
        db.commit()
    info = resolve(database, opened.token)
    assert info is not None and not info.actor.stepped_up  # the login's code is too old now
    ann = acme.users["ann"][0]
    with database.session() as db:
        with pytest.raises(StepUpRequired):
            members.change_role(db, info.actor, ann, Role.MANAGER)
        with pytest.raises(StepUpRequired):
            next(export_csv(db, info.actor, AuditFilter()))
        with pytest.raises(StepUpRequired):
            second_factor.reset_member_factor(db, info.actor, ann)
        mfa_login.step_up(db, opened.token, recovery[0])
    stepped = resolve(database, opened.token)
    assert stepped is not None and stepped.actor.stepped_up
    with database.session() as db:
        members.change_role(db, stepped.actor, ann, Role.MANAGER)
        db.commit()
        assert "audit.exported" not in db.scalars(select(AuditEvent.action)).all()
        assert next(export_csv(db, stepped.actor, AuditFilter())).startswith("id,time_utc")
        with pytest.raises(InvalidInput):  # a recovery code works once
            mfa_login.step_up(db, opened.token, recovery[0])


def test_a_role_change_ends_the_members_sessions(database: Database, acme: OrgFixture) -> None:
    ann_session = sign_in(database, "ann@acme.test")
    owner = Actor(user_id=acme.users["olga"][0], org_id=acme.org_id, role=Role.OWNER, stepped_up=True)
    with database.session() as db:
        members.change_role(db, owner, acme.users["ann"][0], Role.MANAGER)
        db.commit()
    assert resolve(database, ann_session.token) is None
    again = resolve(database, sign_in(database, "ann@acme.test").token)
    assert again is not None and again.actor.role == Role.MANAGER


def test_admins_cannot_touch_owners(database: Database, acme: OrgFixture) -> None:
    admin = Actor(user_id=acme.users["adam"][0], org_id=acme.org_id, role=Role.ADMIN, stepped_up=True)
    enrol(database, acme.users["olga"][0])
    with database.session() as db:
        with pytest.raises(InvalidInput):
            members.change_role(db, admin, acme.users["olga"][0], Role.AGENT)
        with pytest.raises(InvalidInput):
            members.change_role(db, admin, acme.users["ann"][0], Role.OWNER)
        with pytest.raises(InvalidInput):
            second_factor.reset_member_factor(db, admin, acme.users["olga"][0])


def test_an_admin_resets_a_lost_factor(database: Database, acme: OrgFixture) -> None:
    enrol(database, acme.users["ann"][0])
    waiting = sign_in(database, "ann@acme.test")
    admin = Actor(user_id=acme.users["adam"][0], org_id=acme.org_id, role=Role.ADMIN, stepped_up=True)
    with database.session() as db:
        second_factor.reset_member_factor(db, admin, acme.users["ann"][0])
        db.commit()
        assert not mfa.has_confirmed_factor(db, acme.users["ann"][0])
    assert sign_in(database, "ann@acme.test").next_url == "/board"
    with database.session() as db:
        assert mfa_login.waiting_for(db, waiting.token) is None


def test_turning_off_ones_own_factor_respects_the_policy(database: Database, acme: OrgFixture) -> None:
    enrol(database, acme.users["adam"][0])
    adam = Actor(user_id=acme.users["adam"][0], org_id=acme.org_id, role=Role.ADMIN, stepped_up=True)
    set_policy(database, acme, "admins")
    with database.session() as db, pytest.raises(InvalidInput, match="requires"):
        second_factor.turn_off_own_factor(db, adam)
    set_policy(database, acme, "off")
    with database.session() as db:
        with pytest.raises(StepUpRequired):
            second_factor.turn_off_own_factor(db, Actor(adam.user_id, adam.org_id, adam.role))
        second_factor.turn_off_own_factor(db, adam)
        db.commit()
        assert not mfa.has_confirmed_factor(db, acme.users["adam"][0])


def test_the_routes_carry_codes_and_rotate_the_cookie(database: Database, acme: OrgFixture, api) -> None:  # type: ignore[no-untyped-def]
    secret, _ = enrol(database, acme.users["ann"][0])
    answer = api.post("/auth/login", data={"email": "ann@acme.test", "password": PASSWORD},
                      headers={"Accept": "application/json"})
    assert answer.json() == {"next": "/login/verify"}
    waiting = api.cookies.get("pkcrm_session")
    assert api.get("/audit/export.csv").status_code == 401  # a waiting login opens nothing
    wrong = api.post("/auth/mfa/verify", data={"code": "999999" if mfa.code_at(secret) != "999999" else "888888"},
                     headers={"Accept": "application/json"})
    assert wrong.json() == {"next": "/login/verify?error=1"}
    right = api.post("/auth/mfa/verify", data={"code": mfa.code_at(secret)}, headers={"Accept": "application/json"})
    assert right.json() == {"next": "/board"}
    assert api.cookies.get("pkcrm_session") not in (None, waiting)
    assert resolve(database, api.cookies.get("pkcrm_session")) is not None
    time.sleep(0)  # the step-up window is open right after login
    assert api.post("/auth/step-up", data={"code": "nonsense"}).json()["ok"] is False


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    yield from running_mailbox()


def not_a_code(secret: str) -> str:
    """Six digits no step around now produces."""
    now = time.time()
    window = {mfa.code_at(secret, now + k * mfa.TIME_STEP) for k in (-2, -1, 0, 1, 2)}
    return next(c for c in (f"{n:06d}" for n in range(1000)) if c not in window)


def factor_of(database: Database, user_id: int) -> MfaFactor:
    with database.session() as db:
        return db.scalars(select(MfaFactor).where(MfaFactor.user_id == user_id)).one()


def end_the_lock(database: Database, user_id: int) -> None:
    with database.session() as db:
        db.execute(update(MfaFactor).where(MfaFactor.user_id == user_id)
                   .values(locked_until=utcnow() - timedelta(seconds=1)))


def test_wrong_codes_count_for_the_person_across_sign_ins_and_step_ups(database: Database, acme: OrgFixture,
                                                                       mailbox: Mailbox) -> None:
    """Each new password sign-in used to bring five fresh guesses; now five wrong codes in a row, wherever
    they are typed (any sign-in, a step-up, recovery codes too), lock the person's factor, with growing locks."""
    ann, ann_email = acme.users["ann"]
    secret, recovery = enrol(database, ann)
    bad = not_a_code(secret)
    with database.session() as db:
        live = mfa_login.finish_with_code(db, sign_in(database, ann_email).token, recovery[0])
    for _ in range(2):  # two sign-ins, one wrong code each
        refused(database, lambda db: mfa_login.finish_with_code(db, sign_in(database, ann_email).token, bad))
    # A wrong recovery code at a step-up counts as well.
    refused(database, lambda db: mfa_login.step_up(db, live.token, "abcd-efgh-ijkm"))
    refused(database, lambda db: mfa_login.step_up(db, live.token, bad))
    refused(database, lambda db: mfa_login.finish_with_code(db, sign_in(database, ann_email).token, bad),
            AuthenticationFailed, "locked for 15 more minutes")  # the fifth, in a new sign-in
    for right in (mfa.code_at(secret), recovery[1]):  # while locked even the right codes are refused
        refused(database, lambda db, right=right: mfa_login.finish_with_code(
            db, sign_in(database, ann_email).token, right), AuthenticationFailed, "locked")
    refused(database, lambda db: mfa_login.step_up(db, live.token, mfa.code_at(secret)),
            AuthenticationFailed, "locked")  # and a step-up ends its session
    assert resolve(database, live.token) is None
    locked = factor_of(database, ann)
    assert locked.lockouts == 1 and locked.locked_until is not None
    assert timedelta(minutes=14) < locked.locked_until - utcnow() <= timedelta(minutes=15)
    [mail] = mailbox.to(ann_email)
    assert "locked for 15 minutes" in Mailbox.body(mail) and "change it" in Mailbox.body(mail)
    with database.session() as db:
        [alert] = alerts.list_alerts(db, acme.actor("adam", Role.ADMIN))[0]
        audited = db.scalars(select(AuditEvent.action).where(AuditEvent.org_id == acme.org_id)).all()
    assert alert.kind == AlertKind.MFA_LOCKED and alert.message == (
        "Ann's two-factor sign-in was locked for 15 minutes after 5 wrong codes in a row")
    assert audited.count("mfa.locked") == 1

    end_the_lock(database, ann)  # back-off: the next lock lasts twice as long
    for _ in range(4):
        refused(database, lambda db: mfa_login.finish_with_code(db, sign_in(database, ann_email).token, bad))
    refused(database, lambda db: mfa_login.finish_with_code(db, sign_in(database, ann_email).token, bad),
            AuthenticationFailed, "locked for 30 more minutes")
    assert factor_of(database, ann).lockouts == 2 and len(mailbox.to(ann_email)) == 2

    end_the_lock(database, ann)  # a right code, once the lock is over, clears both counts
    with database.session() as db:
        assert mfa_login.finish_with_code(db, sign_in(database, ann_email).token, recovery[1]).next_url == "/board"
    cleared = factor_of(database, ann)
    assert (cleared.failed_attempts, cleared.lockouts) == (0, 0)


def test_the_code_route_says_when_the_factor_is_locked(database: Database, acme: OrgFixture, api, mailbox) -> None:  # type: ignore[no-untyped-def]
    secret, _ = enrol(database, acme.users["ann"][0])
    bad = not_a_code(secret)
    answers = []
    for _ in range(5):
        api.post("/auth/login", data={"email": "ann@acme.test", "password": PASSWORD})
        answers.append(api.post("/auth/mfa/verify", data={"code": bad}, headers={"Accept": "application/json"}).json())
    assert answers == [{"next": "/login/verify?error=1"}] * 4 + [{"next": "/login?error=mfa_locked"}]
