"""Login and logout over HTTP, and which sessions still let someone in."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from pkcrm_app.accounts.identity.cookies import SESSION_COOKIE
from pkcrm_app.accounts.identity.models import AuthSession, Membership, User
from pkcrm_app.accounts.identity.service import resolve_session
from pkcrm_app.core.authz import Role
from pkcrm_app.core.db import utcnow
from tests.support.data import PASSWORD, make_org


@pytest.fixture
def acme(database):  # type: ignore[no-untyped-def]
    return make_org(database, "acme", "1001", {"alice": Role.AGENT})


def login(api, email: str, password: str, **headers: str):  # type: ignore[no-untyped-def]
    return api.post("/auth/login", data={"email": email, "password": password},
                    headers=headers, follow_redirects=False)


def session_token(response) -> str:  # type: ignore[no-untyped-def]
    return response.cookies[SESSION_COOKIE]


def resolve(database, token: str):  # type: ignore[no-untyped-def]
    with database.session() as db:
        return resolve_session(db, token)


def test_login_sets_a_private_cookie_and_stores_only_its_hash(api, database, acme) -> None:
    response = login(api, "Alice@Acme.test ", PASSWORD)
    assert response.status_code == 303 and response.headers["location"] == "/board"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    token = session_token(response)
    with database.session() as db:
        ids = db.scalars(select(AuthSession.id)).all()
    assert ids == [hashlib.sha256(token.encode()).hexdigest()]
    assert token not in ids
    info = resolve(database, token)
    assert info is not None and (info.email, info.actor.org_id) == ("alice@acme.test", acme.org_id)


def test_wrong_password_and_unknown_email_look_the_same(api, database, acme) -> None:
    wrong = login(api, "alice@acme.test", "not the password")
    unknown = login(api, "nobody@acme.test", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 303
        assert response.headers["location"] == "/login?error=1"
        assert "set-cookie" not in response.headers
    assert wrong.content == unknown.content
    with database.session() as db:
        assert db.scalars(select(AuthSession)).all() == []


def test_json_clients_get_the_next_page(api, acme) -> None:
    ok = login(api, "alice@acme.test", PASSWORD, accept="application/json")
    assert (ok.status_code, ok.json()) == (200, {"next": "/board"})
    assert SESSION_COOKIE in ok.cookies
    failed = login(api, "alice@acme.test", "nope", accept="application/json")
    assert failed.json() == {"next": "/login?error=1"}


def test_cross_site_login_is_refused(api, database, acme) -> None:
    response = login(api, "alice@acme.test", PASSWORD, origin="https://evil.example")
    assert response.status_code == 403 and "set-cookie" not in response.headers
    assert login(api, "alice@acme.test", PASSWORD, origin="http://testserver").status_code == 303


def test_logout_revokes_the_session_and_clears_the_cookie(api, database, acme) -> None:
    token = session_token(login(api, "alice@acme.test", PASSWORD))
    assert resolve(database, token) is not None
    api.cookies.set(SESSION_COOKIE, token)
    response = api.post("/auth/logout", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    cleared = response.headers["set-cookie"].lower()
    assert cleared.startswith(f"{SESSION_COOKIE}=")
    assert "max-age=0" in cleared or "expires=thu, 01 jan 1970" in cleared
    assert resolve(database, token) is None
    with database.session() as db:
        assert db.scalars(select(AuthSession.revoked_at)).one() is not None


@pytest.mark.parametrize("ended", ["expired", "revoked", "user deactivated", "membership deactivated"])
def test_ended_sessions_do_not_resolve(api, database, acme, ended: str) -> None:
    token = session_token(login(api, "alice@acme.test", PASSWORD))
    user_id = acme.users["alice"][0]
    with database.session() as db:
        session = db.scalars(select(AuthSession)).one()
        if ended == "expired":
            session.expires_at = utcnow() - timedelta(seconds=1)
        elif ended == "revoked":
            session.revoked_at = utcnow()
        elif ended == "user deactivated":
            db.get_one(User, user_id).is_active = False
        else:
            db.scalars(select(Membership).where(Membership.user_id == user_id)).one().is_active = False
    assert resolve(database, token) is None


def test_deactivated_user_cannot_log_in(api, database, acme) -> None:
    with database.session() as db:
        db.get_one(User, acme.users["alice"][0]).is_active = False
    response = login(api, "alice@acme.test", PASSWORD)
    assert response.headers["location"] == "/login?error=1" and "set-cookie" not in response.headers


def test_passwords_are_hashed_with_argon2id(database, acme) -> None:
    with database.session() as db:
        stored = db.scalars(select(User.password_hash)).one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
