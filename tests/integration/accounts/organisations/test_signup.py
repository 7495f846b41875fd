"""Sign-up over HTTP: a confirmed email creates an organisation, its owner, the pipeline, and a session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from pkcrm_app.accounts.identity.cookies import SESSION_COOKIE, SIGNUP_COOKIE
from pkcrm_app.accounts.identity.models import Membership, Organisation, User
from pkcrm_app.accounts.identity.service import resolve_session
from pkcrm_app.accounts.organisations import signup
from pkcrm_app.audit.models import AuditEvent
from pkcrm_app.core.authz import Role
from pkcrm_app.crm.models import Pipeline, Stage
from pkcrm_app.ui.pages.onboarding.state import _pending_signup
from tests.support.data import make_org
from tests.support.smtp import Mailbox, running_mailbox

NEW_PASSWORD = "mango lassi at noon"
JSON = {"accept": "application/json"}


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    yield from running_mailbox()


def sign_up(api, email: str, *, org_name: str = "Karachi Kites", password: str = NEW_PASSWORD):  # type: ignore[no-untyped-def]
    return api.post("/auth/signup", data={"email": email, "name": "Sana Malik", "org_name": org_name,
                                          "password": password}, headers={"accept": "application/json"})


def follow_link(api, path: str):  # type: ignore[no-untyped-def]
    """The emailed link's GET: it only moves the token into the link cookie and leads to the confirmation page."""
    hop = api.get(path, follow_redirects=False)
    assert (hop.status_code, hop.headers["location"]) == (303, "/signup/confirm")
    return hop


def confirm(api):  # type: ignore[no-untyped-def]
    """The confirmation page's "Create my organisation" button."""
    return api.post("/auth/signup/confirm", data={"screen": "1280x800", "language": "ur-PK"}, headers=JSON)


def count(database, model) -> int:  # type: ignore[no-untyped-def]
    with database.session() as db:
        return db.scalar(select(func.count()).select_from(model)) or 0


def test_confirmed_sign_up_creates_the_organisation_and_signs_the_owner_in(api, database, mailbox: Mailbox) -> None:
    answer = sign_up(api, "Sana@Kites.test ")
    assert (answer.status_code, answer.json()) == (200, {"next": "/signup?sent=1"})
    assert count(database, Organisation) == 0 and count(database, User) == 0  # nothing before the email is confirmed
    [mail] = mailbox.to("sana@kites.test")
    assert "Confirm" in mail["Subject"]
    path = mailbox.link(mail, "/auth/signup/confirm/")

    follow_link(api, path)
    opened = confirm(api)
    assert opened.json() == {"next": "/board"} and SIGNUP_COOKIE not in api.cookies
    token = opened.cookies[SESSION_COOKIE]
    with database.session() as db:
        info = resolve_session(db, token)
        assert info is not None and info.email == "sana@kites.test" and info.actor.role == Role.OWNER
        org = db.get(Organisation, info.actor.org_id)
        assert org is not None and (org.name, org.slug) == ("Karachi Kites", "karachi-kites")
        pipeline = db.scalar(select(Pipeline).where(Pipeline.org_id == org.id, Pipeline.is_default.is_(True)))
        assert pipeline is not None
        stages = db.scalars(select(Stage.name).where(Stage.pipeline_id == pipeline.id).order_by(Stage.position)).all()
        assert stages[0] == "New" and "Won" in stages
        assert "organisation.created" in db.scalars(select(AuditEvent.action).where(AuditEvent.org_id == org.id)).all()
    # The owner signs in with the password chosen at sign-up.
    login = api.post("/auth/login", data={"email": "sana@kites.test", "password": NEW_PASSWORD}, follow_redirects=False)
    assert login.headers["location"] != "/login?error=1"

    follow_link(api, path)  # single use
    again = confirm(api)
    assert again.json()["next"].startswith("/signup/confirm?error=") and SESSION_COOKIE not in again.cookies
    assert count(database, Organisation) == 1


def test_following_the_link_alone_creates_nothing(api, database, mailbox: Mailbox) -> None:
    """Mail scanners open links before people do: the GET must neither create anything nor sign anyone in."""
    sign_up(api, "sana@kites.test")
    path = mailbox.link(mailbox.to("sana@kites.test")[0], "/auth/signup/confirm/")
    for _ in range(3):
        hop = follow_link(api, path)
        assert SESSION_COOKIE not in hop.cookies
        assert "httponly" in hop.headers["set-cookie"].lower() and hop.headers["cache-control"] == "no-store"
    assert count(database, Organisation) == 0 and count(database, User) == 0
    # The confirmation page reads what it shows from the cookie, on the server, without using the link up.
    with database.session() as db:
        pending = signup.describe(db, api.cookies[SIGNUP_COOKIE])
    assert (pending.org_name, pending.email) == ("Karachi Kites", "sana@kites.test")
    assert _pending_signup(path.rsplit("/", 1)[1]) == pending and _pending_signup("made-up") is None
    # The person still confirms afterwards with the same link.
    assert confirm(api).json() == {"next": "/board"}
    assert count(database, Organisation) == 1


def test_confirming_needs_the_link_cookie_and_the_same_origin(api, database, mailbox: Mailbox) -> None:
    sign_up(api, "sana@kites.test")
    assert confirm(api).json()["next"].startswith("/signup/confirm?error=")  # no link followed yet
    follow_link(api, mailbox.link(mailbox.to("sana@kites.test")[0], "/auth/signup/confirm/"))
    evil = api.post("/auth/signup/confirm", headers={"origin": "https://evil.example"})
    assert evil.status_code == 403 and SESSION_COOKIE not in evil.cookies
    assert count(database, Organisation) == 0


def test_a_second_organisation_with_the_same_name_gets_its_own_slug(api, database, mailbox: Mailbox) -> None:
    make_org(database, "karachi-kites", "1001", {"ali": Role.OWNER})
    sign_up(api, "sana@kites.test")
    follow_link(api, mailbox.link(mailbox.to("sana@kites.test")[0], "/auth/signup/confirm/"))
    confirm(api)
    with database.session() as db:
        slugs = sorted(db.scalars(select(Organisation.slug)).all())
    assert slugs == ["karachi-kites", "karachi-kites-2"]


def test_known_and_unknown_emails_get_the_same_answer(api, database, mailbox: Mailbox) -> None:
    acme = make_org(database, "acme", "1001", {"alice": Role.OWNER})
    known = sign_up(api, acme.users["alice"][1])
    unknown = sign_up(api, "newcomer@acme.test")
    assert (known.status_code, known.content) == (unknown.status_code, unknown.content)
    # The existing user is told to sign in or reset, and gets no link that creates anything.
    [note] = mailbox.to("alice@acme.test")
    body = mailbox.body(note)
    assert "already has an account" in body and "/forgot" in body and "/auth/signup/confirm/" not in body
    assert len(mailbox.to("newcomer@acme.test")) == 1
    with database.session() as db:
        assert db.scalar(select(func.count()).select_from(Organisation)) == 1


def test_weak_passwords_and_missing_fields_are_refused_before_any_mail(api, database, mailbox: Mailbox) -> None:
    for password in ("short", "password123", "aaaaaaaaaaaaa", "sana.malik.2026"):
        answer = sign_up(api, "sana.malik@kites.test", password=password)
        assert answer.json()["next"].startswith("/signup?error=")
    assert sign_up(api, "not-an-email", password=NEW_PASSWORD).json()["next"] == "/signup?error=email"
    assert sign_up(api, "sana@kites.test", org_name="  ").json()["next"] == "/signup?error=org-name"
    assert mailbox.messages == []


def test_an_expired_or_wrong_link_creates_nothing(api, database, mailbox: Mailbox) -> None:
    from pkcrm_app.accounts.organisations.onboarding_models import SignupRequest
    from pkcrm_app.core.db import utcnow

    sign_up(api, "sana@kites.test")
    path = mailbox.link(mailbox.to("sana@kites.test")[0], "/auth/signup/confirm/")
    follow_link(api, "/auth/signup/confirm/not-a-real-token")
    wrong = confirm(api)
    assert wrong.json()["next"].startswith("/signup/confirm?error=") and SESSION_COOKIE not in wrong.cookies
    with database.session() as db:
        for request in db.scalars(select(SignupRequest)):
            request.expires_at = utcnow()
    follow_link(api, path)
    expired = confirm(api)
    assert expired.json() == wrong.json() and SESSION_COOKIE not in expired.cookies
    assert count(database, Organisation) == 0 and count(database, Membership) == 0


def test_cross_site_sign_up_is_refused(api, database, mailbox: Mailbox) -> None:
    answer = api.post("/auth/signup", data={"email": "x@kites.test", "name": "X", "org_name": "X",
                                            "password": NEW_PASSWORD}, headers={"origin": "https://evil.example"})
    assert answer.status_code == 403 and mailbox.messages == []


def test_mail_without_smtp_host_goes_to_the_outbox_folder(api, database, tmp_path, monkeypatch, caplog) -> None:
    from pkcrm_app.settings import get_settings

    monkeypatch.setenv("PKCRM_SMTP_HOST", "")
    monkeypatch.setenv("PKCRM_INSTANCE_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        with caplog.at_level("INFO", logger="pkcrm.mail"):
            assert sign_up(api, "sana@kites.test").json() == {"next": "/signup?sent=1"}
        [saved] = list((tmp_path / "outbox").glob("*.eml"))
        assert "/auth/signup/confirm/" in saved.read_text()
        assert "saved" in caplog.text and "/auth/signup/confirm/" not in caplog.text
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
