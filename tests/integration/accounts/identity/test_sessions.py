"""Signed-in devices: what is recorded, listing, ending one or all others, admins ending a member's, idle time-out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from pkcrm_app.accounts.identity import service, sessions
from pkcrm_app.accounts.identity.models import AuthSession
from pkcrm_app.core.authz import Role
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import NotFound, PermissionDenied
from tests.support.data import PASSWORD, make_org

CHROME_LINUX = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
SAFARI_IOS = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
              "Version/17.4 Mobile/15E148 Safari/604.1")


def sign_in(database, email: str, user_agent: str, screen: str = "1920x1080") -> str:  # type: ignore[no-untyped-def]
    with database.session() as db:
        return service.login(db, email=email, password=PASSWORD, ip="192.0.2.10", user_agent=user_agent, hours=8,
                             screen=screen, language="en-GB").token


@pytest.fixture
def acme(database):  # type: ignore[no-untyped-def]
    return make_org(database, "acme", "1001", {"ann": Role.AGENT, "adam": Role.ADMIN})


def test_sessions_list_the_device_details_the_policy_names(database, acme) -> None:  # type: ignore[no-untyped-def]
    laptop = sign_in(database, "ann@acme.test", CHROME_LINUX)
    sign_in(database, "ann@acme.test", SAFARI_IOS, screen="390x844")
    with database.session() as db:
        listed = sessions.my_sessions(db, acme.actor("ann"), laptop)
    assert {(s.browser, s.operating_system, s.screen, s.language, s.ip_address) for s in listed} == {
        ("Chrome 156", "Linux", "1920x1080", "en-GB", "192.0.2.10"), ("Safari 17", "iOS 17.4", "390x844", "en-GB",
                                                                     "192.0.2.10")}
    assert [s.current for s in listed if s.browser.startswith("Chrome")] == [True]


def test_ending_one_or_all_other_sessions(database, acme) -> None:  # type: ignore[no-untyped-def]
    laptop, phone, tablet = (sign_in(database, "ann@acme.test", ua) for ua in (CHROME_LINUX, SAFARI_IOS, SAFARI_IOS))
    with database.session() as db:
        phone_handle = next(s.handle for s in sessions.my_sessions(db, acme.actor("ann"), phone) if s.current)
        sessions.end_session(db, acme.actor("ann"), phone_handle)
    with database.session() as db:
        assert service.resolve_session(db, phone) is None and service.resolve_session(db, tablet) is not None
        assert sessions.end_other_sessions(db, acme.actor("ann"), laptop) == 1
    with database.session() as db:
        assert service.resolve_session(db, tablet) is None and service.resolve_session(db, laptop) is not None
        with pytest.raises(NotFound):
            sessions.end_session(db, acme.actor("adam", Role.ADMIN), phone_handle)  # not someone else's


def test_admins_end_a_members_sessions_agents_cannot(database, acme) -> None:  # type: ignore[no-untyped-def]
    token = sign_in(database, "ann@acme.test", CHROME_LINUX)
    ann_id = acme.users["ann"][0]
    with database.session() as db, pytest.raises(PermissionDenied):
        sessions.end_member_sessions(db, acme.actor("ann"), ann_id)
    with database.session() as db:
        assert sessions.end_member_sessions(db, acme.actor("adam", Role.ADMIN), ann_id) == 1
    with database.session() as db:
        assert not service.session_is_live(db, token)


def test_idle_sessions_end(database, acme) -> None:  # type: ignore[no-untyped-def]
    token = sign_in(database, "ann@acme.test", CHROME_LINUX)
    with database.session() as db:
        db.execute(update(AuthSession).values(last_seen_at=utcnow() - service.IDLE_TIMEOUT - timedelta(minutes=1)))
    with database.session() as db:
        assert service.resolve_session(db, token) is None
