"""Emailed links are bound to the browser that asked for them; opened in another browser (a forwarded link, to
sign its reader in to someone else's account) the person must confirm the account's email first. Invitations,
asked for by an admin, always need that confirmation. Pages show fixed messages for short error codes only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from pkcrm_app.accounts.identity import outcomes, recovery
from pkcrm_app.accounts.identity.cookies import (
    BROWSER_COOKIE,
    INVITE_COOKIE,
    RESET_COOKIE,
    SESSION_COOKIE,
    SIGNUP_COOKIE,
)
from pkcrm_app.accounts.identity.models import Organisation, User
from pkcrm_app.accounts.identity.passwords import verify_password
from pkcrm_app.accounts.identity.service import resolve_session
from pkcrm_app.accounts.organisations import invitations, signup
from pkcrm_app.core.authz import Role
from pkcrm_app.http import build_api
from tests.support.data import PASSWORD, OrgFixture, make_org
from tests.support.smtp import Mailbox, running_mailbox

JSON = {"accept": "application/json"}
NEW_PASSWORD = "mango lassi at noon"
UI = Path(__file__).resolve().parents[4] / "pkcrm_app" / "ui"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    yield from running_mailbox()


@pytest.fixture
def other_browser(api) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A second browser: its own cookie jar, the same app."""
    with TestClient(build_api(), base_url="http://testserver") as client:
        yield client


@pytest.fixture
def acme(database) -> OrgFixture:  # type: ignore[no-untyped-def]
    return make_org(database, "acme", "1001", {"adam": Role.ADMIN, "alice": Role.AGENT})


def _count(database, model) -> int:  # type: ignore[no-untyped-def]
    with database.session() as db:
        return db.scalar(select(func.count()).select_from(model)) or 0


def test_a_sign_up_link_opened_in_another_browser_asks_to_confirm_the_account(api, other_browser, database,
                                                                              mailbox: Mailbox) -> None:
    asked = api.post("/auth/signup", data={"email": "mallory@evil.test", "name": "Mallory", "org_name": "Trap",
                                           "password": NEW_PASSWORD}, headers=JSON)
    assert asked.json() == {"next": "/signup?sent=1"} and api.cookies.get(BROWSER_COOKIE)
    path = mailbox.link(mailbox.to("mallory@evil.test")[0], "/auth/signup/confirm/")
    other_browser.get(path, follow_redirects=False)  # the link, forwarded to someone else
    with database.session() as db:
        view = signup.describe(db, other_browser.cookies.get(SIGNUP_COOKIE), other_browser.cookies.get(BROWSER_COOKIE))
    assert view.email == "mallory@evil.test" and not view.same_browser  # the page shows the email and asks
    pressed = other_browser.post("/auth/signup/confirm", data={}, headers=JSON)
    assert pressed.json() == {"next": "/signup/confirm?error=confirm"} and SESSION_COOKIE not in pressed.cookies
    assert _count(database, Organisation) == 0 and _count(database, User) == 0
    confirmed = other_browser.post("/auth/signup/confirm", data={"confirmed_email": "Mallory@evil.test"},
                                   headers=JSON)
    assert confirmed.json() == {"next": "/board"} and confirmed.cookies.get(SESSION_COOKIE)


def test_a_sign_up_link_in_the_browser_that_asked_needs_no_confirmation(api, database, mailbox: Mailbox) -> None:
    api.post("/auth/signup", data={"email": "sana@kites.test", "name": "Sana", "org_name": "Kites",
                                   "password": NEW_PASSWORD}, headers=JSON)
    api.get(mailbox.link(mailbox.to("sana@kites.test")[0], "/auth/signup/confirm/"), follow_redirects=False)
    with database.session() as db:
        assert signup.describe(db, api.cookies.get(SIGNUP_COOKIE), api.cookies.get(BROWSER_COOKIE)).same_browser
    assert api.post("/auth/signup/confirm", data={}, headers=JSON).json() == {"next": "/board"}


def test_a_reset_link_opened_in_another_browser_asks_to_confirm_even_when_signed_in(api, other_browser, database,
                                                                                     acme, mailbox) -> None:
    api.post("/auth/forgot", data={"email": "alice@acme.test"}, headers=JSON)
    path = mailbox.link(mailbox.to("alice@acme.test")[0], "/auth/reset/")
    signed_in = other_browser.post("/auth/login", data={"email": "alice@acme.test", "password": PASSWORD},
                                   follow_redirects=False)
    assert signed_in.status_code == 303  # this browser is signed in as alice: that is not taken as the confirmation
    other_browser.get(path, follow_redirects=False)
    with database.session() as db:
        view = recovery.describe_reset(db, other_browser.cookies.get(RESET_COOKIE),
                                       other_browser.cookies.get(BROWSER_COOKIE))
    assert view is not None and (view.email, view.same_browser) == ("alice@acme.test", False)
    refused = other_browser.post("/auth/reset", data={"password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
                                 headers=JSON)
    assert refused.json() == {"next": "/reset?error=confirm"}
    with database.session() as db:
        alice = db.scalar(select(User).where(User.email == "alice@acme.test"))
        assert alice is not None and verify_password(alice.password_hash, PASSWORD)
    done = other_browser.post("/auth/reset", data={"password": NEW_PASSWORD, "password_again": NEW_PASSWORD,
                                                   "confirmed_email": "alice@acme.test"}, headers=JSON)
    assert done.json() == {"next": "/board"}
    with database.session() as db:
        info = resolve_session(db, done.cookies[SESSION_COOKIE])
        assert info is not None and info.email == "alice@acme.test"


def test_a_reset_link_in_the_browser_that_asked_needs_no_confirmation(api, database, acme, mailbox) -> None:
    api.post("/auth/forgot", data={"email": "alice@acme.test"}, headers=JSON)
    api.get(mailbox.link(mailbox.to("alice@acme.test")[0], "/auth/reset/"), follow_redirects=False)
    done = api.post("/auth/reset", data={"password": NEW_PASSWORD, "password_again": NEW_PASSWORD}, headers=JSON)
    assert done.json() == {"next": "/board"}


def test_an_invitation_always_asks_to_confirm_the_account(api, database, acme, mailbox) -> None:
    with database.session() as db:
        invitations.invite(db, acme.actor("adam", Role.ADMIN), "nadia@example.test", Role.AGENT)
    api.get(mailbox.link(mailbox.to("nadia@example.test")[0], "/auth/invite/"), follow_redirects=False)
    data = {"name": "Nadia", "password": NEW_PASSWORD}
    refused = api.post("/auth/invite/accept", data=data, headers=JSON)
    assert refused.json() == {"next": "/invite?error=confirm"} and api.cookies.get(INVITE_COOKIE)
    wrong = api.post("/auth/invite/accept", data={**data, "confirmed_email": "someone@else.test"}, headers=JSON)
    assert wrong.json() == {"next": "/invite?error=confirm"}
    joined = api.post("/auth/invite/accept", data={**data, "confirmed_email": "nadia@example.test"}, headers=JSON)
    assert joined.json() == {"next": "/board"}


def test_refusals_reach_pages_as_short_codes_and_pages_say_only_fixed_words(api, database, acme) -> None:
    answers = [
        api.post("/auth/signup", data={"email": "nope", "name": "N", "org_name": "O", "password": NEW_PASSWORD},
                 headers=JSON),
        api.post("/auth/signup", data={"email": "n@x.test", "name": "N", "org_name": "O", "password": "short"},
                 headers=JSON),
        api.post("/auth/signup/confirm", data={}, headers=JSON),
        api.post("/auth/invite/accept", data={}, headers=JSON),
        api.post("/auth/reset", data={"password": "a", "password_again": "b"}, headers=JSON),
    ]
    nexts = [answer.json()["next"] for answer in answers]
    assert all(re.fullmatch(r"/[a-z/]+\?error=[a-z-]+", n) for n in nexts), nexts
    assert nexts[:2] == ["/signup?error=email", "/signup?error=password-short"]
    assert outcomes.message_for("password-short").startswith("The password must have at least")
    crafted = "Your account is locked. Call +1 555 0100 to unlock it."
    assert outcomes.message_for(crafted) == outcomes.GENERIC
    assert outcomes.message_for("") == ""


def test_no_page_shows_the_text_of_its_address() -> None:
    """Every page state that reads `?error=` maps it through the catalogue (or a fixed table of its own)."""
    reads = re.compile(r"""(?:query_parameters|query)\.get\("error"[^)]*\)""")
    unmapped = []
    for path in UI.rglob("*.py"):
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if reads.search(line) and "message_for(" not in line and not line.strip().startswith("code = ") \
                    and " if " not in line:
                unmapped.append(f"{path.relative_to(UI)}:{number}: {line.strip()}")
    assert unmapped == []
