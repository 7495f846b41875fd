"""Invitations: admins invite by a single-use, expiring link with a role; the invitee joins and is signed in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from pkcrm_app.accounts.identity.cookies import INVITE_COOKIE, SESSION_COOKIE
from pkcrm_app.accounts.identity.models import Membership, User
from pkcrm_app.accounts.identity.service import resolve_session
from pkcrm_app.accounts.organisations import invitations
from pkcrm_app.accounts.organisations.onboarding_models import Invitation
from pkcrm_app.audit.models import AuditEvent
from pkcrm_app.core.authz import Role
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import InvalidInput, PermissionDenied
from tests.support.data import PASSWORD, OrgFixture, make_org
from tests.support.smtp import Mailbox, running_mailbox

NEW_PASSWORD = "chai and samosa"
JSON = {"accept": "application/json"}


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    yield from running_mailbox()


@pytest.fixture
def acme(database) -> OrgFixture:  # type: ignore[no-untyped-def]
    return make_org(database, "acme", "1001", {"olivia": Role.OWNER, "adam": Role.ADMIN, "alice": Role.AGENT})


def invite(database, acme: OrgFixture, email: str, role: Role = Role.AGENT, by: str = "adam",  # type: ignore[no-untyped-def]
           as_role: Role = Role.ADMIN) -> int:
    with database.session() as db:
        return invitations.invite(db, acme.actor(by, as_role), email, role)


def follow_invite(api, mailbox: Mailbox, email: str):  # type: ignore[no-untyped-def]
    """Open the newest invitation link mailed to `email` (the first hop puts the token in a cookie)."""
    path = mailbox.link(mailbox.to(email)[-1], "/auth/invite/")
    hop = api.get(path, follow_redirects=False)
    assert hop.status_code == 303 and hop.headers["location"] == "/invite"
    cookie = hop.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    return hop


def accept(api, name: str = "Nadia", password: str = NEW_PASSWORD, email: str = ""):  # type: ignore[no-untyped-def]
    """The invitation page's form; `email` is the account the person confirmed on the page (its first step)."""
    return api.post("/auth/invite/accept", data={"name": name, "password": password, "confirmed_email": email},
                    headers=JSON)


def test_a_new_person_accepts_once_and_is_signed_in_with_the_invited_role(api, database, acme, mailbox) -> None:
    invite(database, acme, "Nadia@Example.test", Role.MANAGER)
    [mail] = mailbox.to("nadia@example.test")
    assert "Acme" in mail["Subject"] and "manager" in mailbox.body(mail)
    follow_invite(api, mailbox, "nadia@example.test")
    with database.session() as db:  # what the /invite page shows, read from the cookie
        view = invitations.describe(db, api.cookies.get(INVITE_COOKIE))
    assert (view.org_name, view.email, view.role, view.existing_account) == ("Acme", "nadia@example.test",
                                                                             Role.MANAGER, False)

    joined = accept(api, email="nadia@example.test")
    assert joined.json() == {"next": "/board"}
    with database.session() as db:
        info = resolve_session(db, joined.cookies[SESSION_COOKIE])
        assert info is not None and (info.email, info.actor.org_id, info.actor.role) == (
            "nadia@example.test", acme.org_id, Role.MANAGER)
        actions = db.scalars(select(AuditEvent.action).where(AuditEvent.org_id == acme.org_id)).all()
        assert "member.invited" in actions and "member.joined" in actions
    assert INVITE_COOKIE not in api.cookies  # the accept answer clears the link cookie

    path = mailbox.link(mailbox.to("nadia@example.test")[-1], "/auth/invite/")
    api.get(path, follow_redirects=False)
    again = accept(api, password="another good phrase", email="nadia@example.test")
    assert again.json()["next"].startswith("/invite?error=") and SESSION_COOKIE not in again.cookies
    with database.session() as db:
        assert len(db.scalars(select(Membership).where(Membership.org_id == acme.org_id)).all()) == 4


def test_an_existing_account_joins_with_its_own_password_only(api, database, acme, mailbox) -> None:
    other = make_org(database, "globex", "2002", {"gita": Role.OWNER})
    invite(database, acme, other.users["gita"][1], Role.AGENT)
    follow_invite(api, mailbox, "gita@globex.test")
    wrong = accept(api, password="not her password at all", email="gita@globex.test")
    assert wrong.json()["next"] == "/invite?error=wrong-password" and SESSION_COOKIE not in wrong.cookies
    joined = accept(api, name="ignored", password=PASSWORD, email="gita@globex.test")
    with database.session() as db:
        info = resolve_session(db, joined.cookies[SESSION_COOKIE])
        assert info is not None and info.actor.org_id == acme.org_id
        user = db.scalar(select(User).where(User.email == "gita@globex.test"))
        assert user is not None and user.name == "Gita"  # an existing account keeps its name


def test_expired_revoked_and_wrong_links_are_refused_with_one_message(api, database, acme, mailbox) -> None:
    first = invite(database, acme, "x@example.test")
    follow_invite(api, mailbox, "x@example.test")
    with database.session() as db:
        db.get(Invitation, first).expires_at = utcnow()  # type: ignore[union-attr]
    expired = accept(api)

    second = invite(database, acme, "y@example.test")
    follow_invite(api, mailbox, "y@example.test")
    with database.session() as db:
        invitations.revoke(db, acme.actor("adam", Role.ADMIN), second)
    revoked = accept(api)

    api.get("/auth/invite/made-up-token", follow_redirects=False)
    wrong = accept(api)
    api.cookies.clear()
    missing = accept(api)
    answers = {r.json()["next"] for r in (expired, revoked, wrong, missing)}
    assert len(answers) == 1 and answers.pop().startswith("/invite?error=")
    with database.session() as db:
        assert db.scalar(select(User).where(User.email.in_(["x@example.test", "y@example.test"]))) is None


def test_resend_replaces_the_link_and_pending_lists_only_live_invitations(api, database, acme, mailbox) -> None:
    admin = acme.actor("adam", Role.ADMIN)
    kept = invite(database, acme, "k@example.test")
    gone = invite(database, acme, "g@example.test")
    with database.session() as db:
        invitations.revoke(db, admin, gone)
        invitations.resend(db, admin, kept)
        pending = invitations.list_pending(db, admin)
    assert [(p.email, p.invited_by) for p in pending] == [("k@example.test", "Adam")]
    old, new = mailbox.to("k@example.test")
    assert mailbox.link(old, "/auth/invite/") != mailbox.link(new, "/auth/invite/")
    api.get(mailbox.link(old, "/auth/invite/"), follow_redirects=False)
    assert accept(api).json()["next"].startswith("/invite?error=")
    api.get(mailbox.link(new, "/auth/invite/"), follow_redirects=False)
    assert accept(api, email="k@example.test").json() == {"next": "/board"}


def test_only_an_owner_invites_an_owner_and_agents_cannot_invite(database, acme, mailbox) -> None:
    with pytest.raises(PermissionDenied):
        invite(database, acme, "boss@example.test", Role.OWNER, by="adam", as_role=Role.ADMIN)
    with pytest.raises(PermissionDenied):
        invite(database, acme, "friend@example.test", Role.AGENT, by="alice", as_role=Role.AGENT)
    with database.session() as db, pytest.raises(PermissionDenied):
        invitations.list_pending(db, acme.actor("alice", Role.AGENT))
    assert mailbox.messages == []
    invite(database, acme, "boss@example.test", Role.OWNER, by="olivia", as_role=Role.OWNER)
    assert len(mailbox.to("boss@example.test")) == 1
    with database.session() as db, pytest.raises(PermissionDenied):  # nor may an admin revoke or resend it
        pending = invitations.list_pending(db, acme.actor("adam", Role.ADMIN))
        invitations.resend(db, acme.actor("adam", Role.ADMIN), pending[0].id)


def test_the_answer_is_the_same_whether_or_not_the_email_has_an_account(database, acme, mailbox) -> None:
    other = make_org(database, "globex", "2002", {"gita": Role.OWNER})
    known = invite(database, acme, other.users["gita"][1])
    unknown = invite(database, acme, "nobody@example.test")
    assert isinstance(known, int) and isinstance(unknown, int)
    body_known = mailbox.body(mailbox.to("gita@globex.test")[0])
    body_unknown = mailbox.body(mailbox.to("nobody@example.test")[0])
    strip = [line for line in body_known.splitlines() if "/auth/invite/" not in line]
    assert strip == [line for line in body_unknown.splitlines() if "/auth/invite/" not in line]
    with pytest.raises(InvalidInput, match="already a member"):  # a member of this organisation is no secret here
        invite(database, acme, acme.users["alice"][1])


def test_cross_site_accept_is_refused(api, database, acme, mailbox) -> None:
    invite(database, acme, "n@example.test")
    follow_invite(api, mailbox, "n@example.test")
    answer = api.post("/auth/invite/accept", data={"name": "N", "password": NEW_PASSWORD},
                      headers={"origin": "https://evil.example"})
    assert answer.status_code == 403
    with database.session() as db:
        assert db.scalar(select(User).where(User.email == "n@example.test")) is None
