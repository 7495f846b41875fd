"""A user's own profile and password."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pkcrm_app.accounts.identity import profile
from pkcrm_app.accounts.identity.cookies import SESSION_COOKIE
from pkcrm_app.accounts.identity.service import resolve_session
from pkcrm_app.audit.models import AuditEvent
from pkcrm_app.core.authz import Role
from pkcrm_app.core.errors import InvalidInput
from tests.support.data import PASSWORD, OrgFixture, make_org

NEW_PASSWORD = "kulfi under moonlight"
JSON = {"accept": "application/json"}


@pytest.fixture
def acme(database) -> OrgFixture:  # type: ignore[no-untyped-def]
    return make_org(database, "acme", "1001", {"alice": Role.AGENT})


def test_update_and_read_back_the_profile(database, acme) -> None:
    actor = acme.actor("alice")
    with database.session() as db:
        saved = profile.update_profile(db, actor, name="  Alice   Khan ", phone="+92 (300) 123-4567", language="ur",
                                       time_zone="Asia/Karachi")
    assert (saved.name, saved.phone, saved.language, saved.time_zone) == ("Alice Khan", "+923001234567", "ur",
                                                                          "Asia/Karachi")
    with database.session() as db:
        again = profile.get_profile(db, actor)
        assert again == saved
        assert "profile.updated" in db.scalars(select(AuditEvent.action)).all()
    with database.session() as db:  # clearing phone and time zone falls back to none / the organisation's
        cleared = profile.update_profile(db, actor, name="Alice", phone="", language="en", time_zone="")
    assert (cleared.phone, cleared.time_zone, cleared.org_time_zone) == ("", "", "UTC")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("name", "   ", "Enter your name"),
    ("phone", "0300 1234567", "international format"),
    ("phone", "+92 abc", "international format"),
    ("language", "klingon", "language"),
    ("time_zone", "Mars/Olympus_Mons", "time zone"),
])
def test_invalid_profile_values_are_refused_and_nothing_is_saved(database, acme, field, value, message) -> None:
    values = {"name": "Alice", "phone": "+923001234567", "language": "en", "time_zone": "Europe/London"}
    values[field] = value
    with database.session() as db, pytest.raises(InvalidInput, match=message):
        profile.update_profile(db, acme.actor("alice"), **values)
    with database.session() as db:
        assert profile.get_profile(db, acme.actor("alice")).phone == ""


def login(api) -> str:  # type: ignore[no-untyped-def]
    return api.post("/auth/login", data={"email": "alice@acme.test", "password": PASSWORD},
                    follow_redirects=False).cookies[SESSION_COOKIE]


def change(api, token: str, current: str, new: str, again: str | None = None):  # type: ignore[no-untyped-def]
    api.cookies.clear()
    api.cookies.set(SESSION_COOKIE, token)
    return api.post("/auth/password", headers=JSON, data={"current_password": current, "new_password": new,
                                                           "new_password_again": again or new})


def test_changing_the_password_ends_only_the_other_sessions(api, database, acme) -> None:
    elsewhere, here = login(api), login(api)
    answer = change(api, here, PASSWORD, NEW_PASSWORD)
    assert answer.json()["next"].startswith("/profile?done=password")
    with database.session() as db:
        assert resolve_session(db, here) is not None
        assert resolve_session(db, elsewhere) is None
        assert "password.changed" in db.scalars(select(AuditEvent.action)).all()
    api.cookies.clear()
    refused = api.post("/auth/login", data={"email": "alice@acme.test", "password": PASSWORD}, follow_redirects=False)
    assert refused.headers["location"] == "/login?error=1"


@pytest.mark.parametrize(("current", "new", "again", "code"), [
    ("wrong password here", NEW_PASSWORD, None, "current-password"),
    (PASSWORD, "short", None, "password-short"),
    (PASSWORD, "password1234", None, "password-common"),
    (PASSWORD, NEW_PASSWORD, "not the same one", "new-passwords-differ"),
    (PASSWORD, PASSWORD, None, "same-password"),
])
def test_a_refused_password_change_changes_nothing(api, database, acme, current, new, again, code) -> None:
    token = login(api)
    answer = change(api, token, current, new, again)
    assert answer.json()["next"] == f"/profile?error={code}"
    with database.session() as db:
        assert resolve_session(db, token) is not None


def test_changing_the_password_needs_a_session_and_the_same_origin(api, database, acme) -> None:
    assert change(api, "not-a-session", PASSWORD, NEW_PASSWORD).json() == {"next": "/login"}
    token = login(api)
    api.cookies.set(SESSION_COOKIE, token)
    cross = api.post("/auth/password", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                             "new_password_again": NEW_PASSWORD},
                     headers={"origin": "https://evil.example"})
    assert cross.status_code == 403
