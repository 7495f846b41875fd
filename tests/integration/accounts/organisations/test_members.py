"""Admins see who is in the organisation and switch members off (their sessions end at once) and on; what lives
on the person (their own fields, their second factor) an admin changes only for someone in no other organisation."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from pkcrm_app import accounts as accounts_package
from pkcrm_app import flows as flows_package
from pkcrm_app.accounts.identity import mfa, second_factor, service
from pkcrm_app.accounts.identity.models import User
from pkcrm_app.accounts.organisations import members
from pkcrm_app.accounts.security import alerts
from pkcrm_app.accounts.security.audit_log import AuditFilter, list_events
from pkcrm_app.accounts.security.models import AlertKind
from pkcrm_app.audit.models import AuditEvent
from pkcrm_app.core.authz import Actor, Role
from pkcrm_app.core.errors import InvalidInput, NotFound, PermissionDenied
from pkcrm_app.http import build_api
from tests.support.data import PASSWORD, make_org
from tests.support.smtp import Mailbox, running_mailbox


@pytest.fixture
def acme(database):  # type: ignore[no-untyped-def]
    return make_org(database, "acme", "1001", {"olive": Role.OWNER, "adam": Role.ADMIN, "ann": Role.AGENT})


def test_admins_list_members_with_role_and_mfa_agents_cannot(database, acme) -> None:  # type: ignore[no-untyped-def]
    make_org(database, "globex", "2002", {"gus": Role.ADMIN})
    with database.session() as db:
        listed = members.list_members(db, acme.actor("adam", Role.ADMIN))
        assert {(m.email, m.role, m.active, m.mfa_enabled) for m in listed} == {
            ("olive@acme.test", Role.OWNER, True, False), ("adam@acme.test", Role.ADMIN, True, False),
            ("ann@acme.test", Role.AGENT, True, False)}
        with pytest.raises(PermissionDenied):
            members.list_members(db, acme.actor("ann"))


def test_deactivating_ends_sessions_and_reactivating_lets_them_back(database, acme) -> None:  # type: ignore[no-untyped-def]
    with database.session() as db:
        token = service.login(db, email="ann@acme.test", password=PASSWORD, ip="", user_agent="", hours=1).token
    ann = acme.users["ann"][0]
    with database.session() as db:
        members.set_member_active(db, acme.actor("adam", Role.ADMIN), ann, active=False)
    with database.session() as db:
        assert service.resolve_session(db, token) is None
    with database.session() as db, pytest.raises(Exception, match="incorrect"):
        service.login(db, email="ann@acme.test", password=PASSWORD, ip="", user_agent="", hours=1)
    with database.session() as db:
        members.set_member_active(db, acme.actor("adam", Role.ADMIN), ann, active=True)
    with database.session() as db:
        assert service.login(db, email="ann@acme.test", password=PASSWORD, ip="", user_agent="", hours=1)


def test_guard_rails(database, acme) -> None:  # type: ignore[no-untyped-def]
    admin = acme.actor("adam", Role.ADMIN)
    with database.session() as db:
        with pytest.raises(InvalidInput, match="yourself"):
            members.set_member_active(db, admin, acme.users["adam"][0], active=False)
        with pytest.raises(InvalidInput, match="only an owner"):
            members.set_member_active(db, admin, acme.users["olive"][0], active=False)
        with pytest.raises(NotFound):
            members.set_member_active(db, admin, 999_999, active=False)


# A person's own fields and factor belong to the person ------------------------------------------------------------

PAST = 59_000_000 * 30  # enrolment confirmed long ago, so today's codes are never replays
JSON = {"accept": "application/json"}


@pytest.fixture
def dana(database, acme):  # type: ignore[no-untyped-def]
    """Dana belongs to Acme and to Globex and has a working second factor: (user id, Globex)."""
    globex = make_org(database, "globex", "2002", {"gus": Role.ADMIN})
    with database.session() as db:
        user = service.create_user(db, email="dana@both.test", name="Dana", password=PASSWORD)
        for org_id in (globex.org_id, acme.org_id):
            service.add_member(db, org_id=org_id, user_id=user.id, role=Role.AGENT)
        secret = mfa.begin_enrolment(db, user.id).secret
        mfa.confirm_enrolment(db, user.id, mfa.code_at(secret, PAST), now=PAST)
    return user.id, globex


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    yield from running_mailbox()


def test_an_admin_may_not_reset_the_factor_of_someone_another_organisation_shares(database, acme, dana) -> None:  # type: ignore[no-untyped-def]
    dana_id, _globex = dana
    admin = Actor(user_id=acme.users["adam"][0], org_id=acme.org_id, role=Role.ADMIN, stepped_up=True)
    with database.session() as db, pytest.raises(PermissionDenied) as refused:
        second_factor.reset_member_factor(db, admin, dana_id)
    message = str(refused.value)
    assert message.startswith("Dana also belongs to another organisation, so only they can reset their two-factor")
    assert "recovery codes" in message and "email" in message and "Globex" not in message
    with database.session() as db:
        assert mfa.has_confirmed_factor(db, dana_id)
        assert db.scalars(select(AuditEvent).where(AuditEvent.action == "mfa.reset")).all() == []
    ann = acme.users["ann"][0]  # someone only in Acme: the admin still helps them
    with database.session() as db:
        secret = mfa.begin_enrolment(db, ann).secret
        mfa.confirm_enrolment(db, ann, mfa.code_at(secret, PAST), now=PAST)
    with database.session() as db:
        second_factor.reset_member_factor(db, admin, ann)
    with database.session() as db:
        assert not mfa.has_confirmed_factor(db, ann)


def test_the_person_resets_their_own_factor_by_email_and_every_organisation_is_told(  # type: ignore[no-untyped-def]
        api, database, acme, dana, mailbox) -> None:
    dana_id, globex = dana
    assert api.post("/auth/login", data={"email": "dana@both.test", "password": PASSWORD},
                    headers=JSON).json() == {"next": "/login/verify"}
    assert api.post("/auth/mfa/lost", headers=JSON).json() == {"next": "/login/verify?sent=1"}
    [mail] = mailbox.to("dana@both.test")
    path = mailbox.link(mail, "/auth/mfa/reset/")
    with TestClient(build_api(), base_url="http://testserver") as elsewhere:  # the link alone is not enough
        elsewhere.get(path)
        assert elsewhere.post("/auth/mfa/reset", headers=JSON).json() == {"next": "/login/verify?reset_error=browser"}
    hop = api.get(path, follow_redirects=False)
    assert hop.status_code == 303 and hop.headers["location"] == "/login/verify"
    assert api.post("/auth/mfa/reset", headers=JSON).json() == {"next": "/login?error=mfa_reset"}
    with database.session() as db:
        assert not mfa.has_confirmed_factor(db, dana_id)
    for org, admin in ((acme, "adam"), (globex, "gus")):
        with database.session() as db:
            told, _ = list_events(db, org.actor(admin, Role.ADMIN), AuditFilter(action="mfa.reset"))
            [alert] = [a for a in alerts.list_alerts(db, org.actor(admin, Role.ADMIN))[0] if a.user_name == "Dana"]
        assert [event.details for event in told if event.action == "mfa.reset"] == ['{"how": "email"}']
        assert alert.kind == AlertKind.MFA_RESET and "email" in alert.message
    api.get(path)  # the link works once
    api.post("/auth/login", data={"email": "dana@both.test", "password": PASSWORD})
    assert api.post("/auth/mfa/reset", headers=JSON).json() == {"next": "/login/verify?reset_error=link"}


# Functions of accounts/ that write what lives on the person (User columns but the last sign-in, the second
# factor and recovery codes), and why each may. A function acting for an Actor may write the actor's own
# (reached through `_me` or passing `actor.user_id`) or call person.require_only_here first; any other writer is
# listed here with its reason. A new writer fails the test below until it is one of these.
PERSON_WRITERS = {
    "service.create_user": "creates the person",
    "signup.confirm_sign_up": "creates the person who confirmed their own sign-up",
    "recovery.reset_password": "the person, through the link mailed to them",
    "mfa.begin_enrolment": "the person enrolling (through their own session)",
    "mfa.confirm_enrolment": "the person enrolling (through their own session)",
    "mfa.reset_factor": "the primitive; its callers are checked here",
    "mfa.regenerate_recovery_codes": "the primitive; its callers are checked here",
    "mfa._replace_recovery_codes": "the primitive; its callers are checked here",
    "mfa._claim_attempt": "counts the person's own code attempts",
    "mfa._use_totp": "spends the person's own code",
    "mfa._use_recovery_code": "spends the person's own recovery code",
    "mfa.check_code": "the person's own code attempt",
    "mfa._lock": "locks the person's factor after their code attempts",
    "mfa_reset.confirm_reset": "the person, through the link mailed to them and their own sign-in",
    "organisation_deletion._forget_people_of_no_other_organisation": "only people of no other organisation",
}
PERSON_COLUMNS = {column.key for column in User.__table__.columns} - {"id", "created_at", "last_login_at"}
PERSON_TABLES = {"User", "MfaFactor", "MfaRecoveryCode"}
PERSON_PRIMITIVES = {"reset_factor", "regenerate_recovery_codes", "_replace_recovery_codes"}


def _callee(call: ast.Call) -> str:
    return call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", "")


def _is_own(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "user_id" and getattr(node.value, "id", "") == "actor"


def _person_writes(function: ast.FunctionDef) -> tuple[bool, bool]:
    """(writes what lives on a person, only ever the acting person's own)."""
    writes, own_only = False, True
    for node in ast.walk(function):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AugAssign) else []
        flat = [e for t in targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])]
        if any(isinstance(t, ast.Attribute) and ((t.attr in PERSON_COLUMNS and "user" in getattr(t.value, "id", ""))
                                                 or "factor" in getattr(t.value, "id", "")) for t in flat):
            writes, own_only = True, False
        if not isinstance(node, ast.Call):
            continue
        name = _callee(node)
        first = getattr(node.args[0], "id", "") if node.args else ""
        if name in PERSON_TABLES or (name == "setattr" and "user" in first) or (
                name in ("update", "delete") and first in PERSON_TABLES):
            writes, own_only = True, False
        elif name in PERSON_PRIMITIVES:
            writes = True
            own_only = own_only and len(node.args) > 1 and _is_own(node.args[1])
    return writes, own_only


def test_every_write_to_a_person_is_their_own_or_only_here() -> None:
    """Finds every function in accounts/ and flows/ that writes a person's own fields or factor; one acting for an
    admin on someone else must check that the person belongs to no other organisation (person.require_only_here)."""
    roots = [Path(accounts_package.__file__).parent, Path(flows_package.__file__).parent]
    unguarded, writers = [], set()
    for base, path in sorted((r, p) for r in roots for p in r.rglob("*.py")):
        parts = path.relative_to(base).with_suffix("").parts
        module = ".".join(parts[1:] if parts[0] in ("identity", "organisations", "security") else parts)
        for function in [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.FunctionDef)]:
            writes, own_only = _person_writes(function)
            if not writes:
                continue
            name = f"{module}.{function.name}"
            writers.add(name)
            calls = {_callee(c) for c in ast.walk(function) if isinstance(c, ast.Call)}
            acts = "actor" in [a.arg for a in function.args.args[:2]]
            if not (name in PERSON_WRITERS or (acts and (own_only or calls & {"_me", "require_only_here"}))):
                unguarded.append(name)
    assert unguarded == [], "writes a person's fields on behalf of someone else without person.require_only_here"
    assert sorted(set(PERSON_WRITERS) - writers) == [], "listed writers that no longer write"
    assert {"profile.update_profile", "profile.change_password", "second_factor.reset_member_factor",
            "second_factor.turn_off_own_factor", "second_factor.new_recovery_codes"} <= writers
