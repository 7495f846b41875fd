"""Password reset by emailed link: same answer for every email, single use, old sessions end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from pkcrm_app.accounts.identity.cookies import RESET_COOKIE, SESSION_COOKIE
from pkcrm_app.accounts.identity.models import User
from pkcrm_app.accounts.identity.service import resolve_session
from pkcrm_app.accounts.organisations.onboarding_models import PasswordReset
from pkcrm_app.audit.models import AuditEvent
from pkcrm_app.core.authz import Role
from pkcrm_app.core.db import utcnow
from tests.support.data import PASSWORD, OrgFixture, make_org
from tests.support.smtp import Mailbox, running_mailbox

NEW_PASSWORD = "biryani on friday"
JSON = {"accept": "application/json"}


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    yield from running_mailbox()


@pytest.fixture
def acme(database) -> OrgFixture:  # type: ignore[no-untyped-def]
    return make_org(database, "acme", "1001", {"alice": Role.AGENT, "bob": Role.AGENT})


def forgot(api, email: str):  # type: ignore[no-untyped-def]
    return api.post("/auth/forgot", data={"email": email}, headers=JSON)


def reset(api, password: str = NEW_PASSWORD, again: str | None = None):  # type: ignore[no-untyped-def]
    return api.post("/auth/reset", data={"password": password, "password_again": again or password}, headers=JSON)


def sign_in(api, email: str, password: str) -> str | None:  # type: ignore[no-untyped-def]
    answer = api.post("/auth/login", data={"email": email, "password": password}, follow_redirects=False)
    return answer.cookies.get(SESSION_COOKIE)


def test_reset_link_sets_a_new_password_ends_old_sessions_and_signs_in(api, database, acme, mailbox) -> None:
    old_session = sign_in(api, "alice@acme.test", PASSWORD)
    assert old_session is not None
    answer = forgot(api, "Alice@Acme.test")
    assert answer.json() == {"next": "/forgot?sent=1"}
    [mail] = mailbox.to("alice@acme.test")
    path = mailbox.link(mail, "/auth/reset/")
    hop = api.get(path, follow_redirects=False)
    assert hop.status_code == 303 and hop.headers["location"] == "/reset"
    assert "httponly" in hop.headers["set-cookie"].lower() and path.rsplit("/", 1)[1] not in hop.headers["location"]

    done = reset(api)
    assert done.json() == {"next": "/board"} and RESET_COOKIE not in api.cookies
    with database.session() as db:
        assert resolve_session(db, old_session) is None  # the session opened before the reset has ended
        assert resolve_session(db, done.cookies[SESSION_COOKIE]) is not None
        assert "password.reset" in db.scalars(select(AuditEvent.action)).all()
    assert sign_in(api, "alice@acme.test", PASSWORD) is None
    assert sign_in(api, "alice@acme.test", NEW_PASSWORD) is not None

    api.get(path, follow_redirects=False)  # single use
    assert reset(api, "yet another fine phrase").json()["next"].startswith("/reset?error=")


def test_known_unknown_and_inactive_emails_get_the_same_answer(api, database, acme, mailbox) -> None:
    with database.session() as db:
        bob = db.scalar(select(User).where(User.email == "bob@acme.test"))
        assert bob is not None
        bob.is_active = False
    answers = [forgot(api, email) for email in ("alice@acme.test", "nobody@acme.test", "bob@acme.test")]
    assert len({(a.status_code, a.content) for a in answers}) == 1
    assert [m["To"] for m in mailbox.messages] == ["alice@acme.test"]  # only the active user gets a mail


def test_weak_or_mismatched_passwords_are_refused_and_the_link_still_works(api, database, acme, mailbox) -> None:
    forgot(api, "alice@acme.test")
    api.get(mailbox.link(mailbox.to("alice@acme.test")[0], "/auth/reset/"), follow_redirects=False)
    for weak in ("short", "password1234", "alice-was-here"):
        refused = reset(api, weak)
        assert refused.json()["next"].startswith("/reset?error=") and SESSION_COOKIE not in refused.cookies
    assert reset(api, NEW_PASSWORD, again="something else entirely").json()["next"].startswith("/reset?error=")
    assert sign_in(api, "alice@acme.test", PASSWORD) is not None  # nothing changed yet
    assert reset(api).json() == {"next": "/board"}


def test_expired_and_made_up_links_are_refused(api, database, acme, mailbox) -> None:
    forgot(api, "alice@acme.test")
    api.get(mailbox.link(mailbox.to("alice@acme.test")[0], "/auth/reset/"), follow_redirects=False)
    with database.session() as db:
        for row in db.scalars(select(PasswordReset)):
            row.expires_at = utcnow()
    expired = reset(api)
    api.get("/auth/reset/made-up", follow_redirects=False)
    made_up = reset(api)
    assert expired.json() == made_up.json() and expired.json()["next"].startswith("/reset?error=")
    assert sign_in(api, "alice@acme.test", PASSWORD) is not None


def test_the_stored_token_is_only_a_hash(api, database, acme, mailbox) -> None:
    forgot(api, "alice@acme.test")
    token = mailbox.link(mailbox.to("alice@acme.test")[0], "/auth/reset/").rsplit("/", 1)[1]
    with database.session() as db:
        stored = db.scalars(select(PasswordReset.token_hash)).all()
    import hashlib

    assert stored == [hashlib.sha256(token.encode()).hexdigest()]


def test_cross_site_forgot_and_reset_are_refused(api, database, acme, mailbox) -> None:
    evil = {"origin": "https://evil.example"}
    assert api.post("/auth/forgot", data={"email": "alice@acme.test"}, headers=evil).status_code == 403
    assert api.post("/auth/reset", data={"password": NEW_PASSWORD}, headers=evil).status_code == 403
    assert mailbox.messages == []
