"""Admins see who is in the organisation and switch members off (their sessions end at once) and on."""

from __future__ import annotations

import pytest

from pkcrm_app.accounts import members, service
from pkcrm_app.accounts.permissions import Role
from pkcrm_app.core.errors import InvalidInput, NotFound, PermissionDenied
from tests.support.data import PASSWORD, make_org


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
