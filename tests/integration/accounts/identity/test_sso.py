"""Single sign-on against a real OpenID provider on loopback: who gets in, and every way a sign-in is refused.

Nobody gets in on an email alone: a member links their provider account (while signed in, confirming their
password), and only that account (issuer + subject) signs them in; an owner also has to opt in. Only owners
with a fresh second factor change the provider, and every owner hears of it. The provider's URLs must be https
on the issuer's host and never an address inside our network; the local provider here is plain http on
loopback, allowed only by the development setting PKCRM_SSO_ALLOW_INSECURE, which these tests switch on
(and off where they check the refusals).
"""

from __future__ import annotations

import hashlib
import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import oidc_provider_mock
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import select, text, update

from pkcrm_app.accounts.identity import service as accounts
from pkcrm_app.accounts.identity.cookies import SESSION_COOKIE, STATE_COOKIE
from pkcrm_app.accounts.identity.models import AuthSession, Membership
from pkcrm_app.accounts.identity.sso import login as sso_login
from pkcrm_app.accounts.identity.sso import models as sso_models
from pkcrm_app.accounts.identity.sso import oidc
from pkcrm_app.accounts.identity.sso import service as sso
from pkcrm_app.accounts.identity.sso.models import SsoConnection, SsoLoginAttempt
from pkcrm_app.audit.models import AuditEvent
from pkcrm_app.core.authz import Actor, Role
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import InvalidInput, PermissionDenied, StepUpRequired
from pkcrm_app.flows import sso as sso_flow
from pkcrm_app.settings import get_settings
from tests.support.data import PASSWORD, OrgFixture, make_org
from tests.support.oidc_provider import DISCOVERY, MockProvider, running_provider
from tests.support.smtp import Mailbox, running_mailbox

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # raised inside the provider mock
CLIENT_ID, SECRET = "pkcrm-acme", "s3cret-value-that-must-never-leak"
JSON = {"Accept": "application/json"}


def user(sub: str, email: str, verified: bool = True) -> oidc_provider_mock.User:
    return oidc_provider_mock.User(sub=sub, claims={"email": email, "email_verified": verified, "name": sub})


PEOPLE = [user("alice", "Alice@Acme.test"), user("impostor", "alice@acme.test"),
          user("stranger", "stranger@acme.test"), user("bob", "bob@globex.test"), user("olga", "olga@acme.test"),
          user("olive", "olive@acme.test")]


@pytest.fixture(scope="module")
def provider() -> Iterator[MockProvider]:
    with running_provider(PEOPLE) as running:
        yield running


@pytest.fixture
def fresh_provider() -> Iterator[MockProvider]:
    """A provider of its own (another port, so nothing of it is cached yet)."""
    with running_provider(PEOPLE) as running:
        yield running


@pytest.fixture(autouse=True)
def development_provider_allowed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The local provider is plain http on loopback: only the development setting lets the app use it."""
    monkeypatch.setenv("PKCRM_SSO_ALLOW_INSECURE", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def insecure_allowed(monkeypatch: pytest.MonkeyPatch, allowed: bool) -> None:
    monkeypatch.setenv("PKCRM_SSO_ALLOW_INSECURE", "1" if allowed else "0")
    get_settings.cache_clear()


@pytest.fixture
def mailbox(development_provider_allowed: None) -> Iterator[Mailbox]:
    yield from running_mailbox()


def owner(acme: OrgFixture, name: str = "olive", *, stepped_up: bool = True) -> Actor:
    return Actor(user_id=acme.users[name][0], org_id=acme.org_id, role=Role.OWNER, stepped_up=stepped_up)


@pytest.fixture
def orgs(database, provider, mailbox):  # type: ignore[no-untyped-def]
    provider.rewrite_id_token = None
    acme = make_org(database, "acme", "1001", {"olive": Role.OWNER, "oscar": Role.OWNER, "ada": Role.ADMIN,
                                               "alice": Role.AGENT, "olga": Role.AGENT})
    globex = make_org(database, "globex", "2002", {"bob": Role.AGENT})
    sso_flow.configure(database, owner(acme), issuer=provider.issuer + "/", client_id=CLIENT_ID,
                       client_secret=SECRET, enabled=True)
    yield acme, globex
    provider.rewrite_id_token = None


def start(api, org: str = "acme"):  # type: ignore[no-untyped-def]
    response = api.get(f"/auth/sso/start?org={org}", follow_redirects=False)
    assert response.status_code == 302, response.text
    return response.headers["location"]


def approve_at_provider(authorize_url: str, sub: str) -> str:
    """What the person does at the provider: pick the account; returns where the provider sends them back."""
    answer = httpx.post(authorize_url, data={"sub": sub}, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def callback(api, location: str):  # type: ignore[no-untyped-def]
    parts = urlsplit(location)
    assert parts.path == "/auth/sso/callback"
    return api.get(f"{parts.path}?{parts.query}", follow_redirects=False)


def sign_in(api, sub: str, org: str = "acme"):  # type: ignore[no-untyped-def]
    api.cookies.clear()
    return callback(api, approve_at_provider(start(api, org), sub))


def password_sign_in(api, email: str) -> None:  # type: ignore[no-untyped-def]
    api.cookies.clear()
    response = api.post("/auth/login", data={"email": email, "password": PASSWORD}, follow_redirects=False)
    assert response.headers["location"] == "/board"


def start_link(api, password: str = PASSWORD) -> str:  # type: ignore[no-untyped-def]
    """The profile's "Link single sign-on" form; returns where the browser goes next."""
    return str(api.post("/auth/sso/link", data={"password": password}, headers=JSON).json()["next"])


def link(api, email: str, sub: str):  # type: ignore[no-untyped-def]
    """Sign in with the password, link the provider account `sub`; returns the callback's answer."""
    password_sign_in(api, email)
    return callback(api, approve_at_provider(start_link(api), sub))


def failures(database, action: str = "login.failed") -> list[str]:  # type: ignore[no-untyped-def]
    with database.session() as db:
        events = db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        return [str((e.details or {}).get("reason")) for e in events]


def assert_refused(response, database, reason: str, page: str = "/login?error=sso") -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 303 and response.headers["location"] == page
    assert SESSION_COOKIE not in response.cookies
    assert failures(database)[-1] == reason


def links_of(database) -> list[tuple[int, int, str, str]]:  # type: ignore[no-untyped-def]
    with database.session() as db:
        return [(row.org_id, row.user_id, row.issuer, row.subject)
                for row in db.scalars(select(sso_models.SsoLink).order_by(sso_models.SsoLink.id))]


# Linking and signing in ------------------------------------------------------------------------------------------

def test_a_member_links_their_account_then_it_signs_them_in(api, database, orgs, provider, mailbox) -> None:
    acme, _ = orgs
    linked = link(api, acme.users["alice"][1], "alice")
    assert linked.status_code == 303 and linked.headers["location"] == "/profile?sso=linked"
    assert links_of(database) == [(acme.org_id, acme.users["alice"][0], provider.issuer, "alice")]
    assert "was linked to your account" in mailbox.body(mailbox.to("alice@acme.test")[-1])

    api.cookies.clear()
    authorize = start(api)
    query = parse_qs(urlsplit(authorize).query)
    assert query["client_id"] == [CLIENT_ID] and query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == ["http://testserver/auth/sso/callback"] and query["nonce"][0]
    with database.session() as db:
        attempt = db.get(SsoLoginAttempt, hashlib.sha256(query["state"][0].encode()).hexdigest())
        assert attempt is not None and attempt.org_id == acme.org_id
        assert query["code_challenge"] == [create_s256_code_challenge(attempt.code_verifier)]
    response = callback(api, approve_at_provider(authorize, "alice"))
    assert response.status_code == 303 and response.headers["location"] == "/board"
    exchange = provider.token_requests[-1]  # the code went back with the PKCE verifier behind the challenge
    assert query["code_challenge"] == [create_s256_code_challenge(exchange["code_verifier"])]
    assert "httponly" in response.headers["set-cookie"].lower()
    with database.session() as db:
        info = accounts.resolve_session(db, response.cookies[SESSION_COOKIE])
        succeeded = db.scalars(select(AuditEvent).where(AuditEvent.action == "login.succeeded")).all()
        linked_audit = db.scalars(select(AuditEvent).where(AuditEvent.action == "sso.linked")).one()
    assert info is not None and (info.email, info.actor.org_id) == ("alice@acme.test", acme.org_id)
    assert [e.details for e in succeeded][-1] == {"method": "sso"}
    assert linked_audit.details["subject"] == "alice" and linked_audit.actor_user_id == acme.users["alice"][0]


def test_an_unlinked_member_is_refused_even_with_a_valid_token_for_their_email(api, database, orgs) -> None:
    acme, _ = orgs
    unlinked = "/login?error=sso-unlinked"
    # A genuine, verified ID token for alice@acme.test: before issue 9 that alone signed Alice in.
    assert_refused(sign_in(api, "alice"), database, "provider account not linked to a member", unlinked)
    assert link(api, acme.users["alice"][1], "alice").headers["location"] == "/profile?sso=linked"
    # Another provider account that carries Alice's (verified) email matches nothing: the subject is what counts.
    assert_refused(sign_in(api, "impostor"), database, "provider account not linked to a member", unlinked)
    assert_refused(sign_in(api, "stranger"), database, "provider account not linked to a member", unlinked)
    # Bob is a member of Globex, not of Acme: Acme's provider cannot sign him in anywhere.
    assert_refused(sign_in(api, "bob"), database, "provider account not linked to a member", unlinked)
    assert sign_in(api, "alice").headers["location"] == "/board"


def test_an_owner_is_signed_in_only_after_linking_and_opting_in(api, database, orgs, mailbox) -> None:
    acme, _ = orgs
    assert_refused(sign_in(api, "olive"), database, "provider account not linked to a member",
                   "/login?error=sso-unlinked")
    assert link(api, acme.users["olive"][1], "olive").headers["location"] == "/profile?sso=linked"
    assert_refused(sign_in(api, "olive"), database, "owner has not opted in to single sign-on",
                   "/login?error=sso-owner")
    with database.session() as db, pytest.raises(StepUpRequired):
        sso.set_owner_sign_in(db, owner(acme, stepped_up=False), allowed=True)
    with database.session() as db, pytest.raises(PermissionDenied):  # an admin cannot opt an owner in
        sso.set_owner_sign_in(db, acme.actor("ada", Role.ADMIN), allowed=True)
    with database.session() as db:
        assert sso.set_owner_sign_in(db, owner(acme), allowed=True) is True
    assert "sign them in as an owner" in mailbox.body(mailbox.to("oscar@acme.test")[-1])
    assert sign_in(api, "olive").headers["location"] == "/board"
    # Linking another provider account takes the opt-in back: that account has not been trusted yet.
    assert link(api, acme.users["olive"][1], "stranger").headers["location"] == "/profile?sso=linked"
    assert_refused(sign_in(api, "stranger"), database, "owner has not opted in to single sign-on",
                   "/login?error=sso-owner")


def test_deactivated_member_is_refused(api, database, orgs) -> None:
    acme, _ = orgs
    link(api, acme.users["olga"][1], "olga")
    with database.session() as db:
        db.execute(update(Membership).where(Membership.user_id == acme.users["olga"][0]).values(is_active=False))
        db.commit()
    assert_refused(sign_in(api, "olga"), database, "member is deactivated")


def test_linking_needs_the_password_and_the_session_that_started_it(api, database, orgs) -> None:
    acme, _ = orgs
    password_sign_in(api, acme.users["alice"][1])
    assert start_link(api, password="not my password") == "/profile?sso=password"
    with database.session() as db:
        assert db.scalars(select(SsoLoginAttempt)).all() == []
    assert failures(database, "sso.link_refused") == ["wrong password"]
    # Started in Alice's session, finished in another browser (no session there): refused.
    location = approve_at_provider(start_link(api), "alice")
    state = api.cookies.get(STATE_COOKIE)
    api.cookies.clear()
    api.cookies.set(STATE_COOKIE, state, path="/auth/sso")
    answer = callback(api, location)
    assert answer.headers["location"] == "/profile?sso=session"
    assert failures(database, "sso.link_failed") == ["link finished outside the session that started it"]
    assert links_of(database) == []
    anonymous = api.post("/auth/sso/link", data={"password": PASSWORD}, headers=JSON)
    assert anonymous.json() == {"next": "/login"}


def test_a_provider_account_links_to_one_member_only(api, database, orgs) -> None:
    acme, _ = orgs
    assert link(api, acme.users["alice"][1], "alice").headers["location"] == "/profile?sso=linked"
    taken = link(api, acme.users["olga"][1], "alice")
    assert taken.headers["location"] == "/profile?sso=taken"
    assert failures(database, "sso.link_failed") == ["provider account already linked to another member"]
    assert [subject for _, _, _, subject in links_of(database)] == ["alice"]


def test_a_new_issuer_ends_the_links_to_the_old_one(api, database, orgs) -> None:
    acme, _ = orgs
    link(api, acme.users["alice"][1], "alice")

    def elsewhere(issuer: str) -> oidc.Provider:
        return oidc.Provider(issuer, issuer + "/authorize", issuer + "/token", issuer + "/jwks")

    with database.session() as db:
        sso_flow.configure(database, owner(acme), issuer="https://login.elsewhere.test", client_id=CLIENT_ID,
                           enabled=True, discover=elsewhere)
        event = db.scalars(select(AuditEvent).where(AuditEvent.action == "sso.configured")
                           .order_by(AuditEvent.id.desc())).first()
    assert links_of(database) == [] and event is not None and event.details["links_ended"] == 1


# Who may change single sign-on -----------------------------------------------------------------------------------

def test_admins_and_agents_cannot_change_single_sign_on(api, database, orgs, provider) -> None:
    acme, _ = orgs
    for actor in (acme.actor("ada", Role.ADMIN), acme.actor("alice")):
        stepped_up = Actor(user_id=actor.user_id, org_id=actor.org_id, role=actor.role, stepped_up=True)
        with database.session() as db:
            with pytest.raises(PermissionDenied) as refused:
                sso_flow.configure(database, stepped_up, issuer=provider.issuer, client_id="attacker-client",
                                   client_secret="attacker-secret", enabled=True)
            assert not isinstance(refused.value, StepUpRequired)
            with pytest.raises(PermissionDenied):
                sso.disable(db, stepped_up)
    password_sign_in(api, acme.users["ada"][1])
    form = {"issuer": provider.issuer, "client_id": "attacker-client", "client_secret": "x", "enabled": "on"}
    answer = api.post("/settings/sso/save", data=form, headers=JSON)
    assert answer.status_code == 403 and answer.json()["ok"] is False and "sso.manage" in answer.json()["error"]
    with database.session() as db:
        shown = sso.get_settings(db, acme.actor("ada", Role.ADMIN))  # admins still read the settings
    assert (shown.client_id, shown.enabled) == (CLIENT_ID, True)


def test_an_owner_needs_a_fresh_second_factor(api, database, orgs, provider) -> None:
    acme, _ = orgs
    with database.session() as db:
        with pytest.raises(StepUpRequired):
            sso_flow.configure(database, owner(acme, stepped_up=False), issuer=provider.issuer, client_id="other",
                               enabled=True)
        with pytest.raises(StepUpRequired):
            sso.disable(db, owner(acme, stepped_up=False))
    password_sign_in(api, acme.users["olive"][1])  # no code entered in this session
    form = {"issuer": provider.issuer, "client_id": "renamed-client", "client_secret": "", "enabled": "on"}
    answer = api.post("/settings/sso/save", data=form, headers=JSON)
    assert answer.status_code == 403 and answer.json()["step_up"] is True
    with database.session() as db:
        assert sso.get_settings(db, acme.actor("ada", Role.ADMIN)).client_id == CLIENT_ID


def test_every_owner_is_mailed_and_the_change_audited(api, database, orgs, provider, mailbox) -> None:
    acme, _ = orgs
    # The fixture's configuration already went to both owners (and to nobody else).
    assert len(mailbox.to("olive@acme.test")) == len(mailbox.to("oscar@acme.test")) == 1
    assert mailbox.to("ada@acme.test") == [] and mailbox.to("alice@acme.test") == []
    with database.session() as db:
        sso_flow.configure(database, owner(acme, "oscar"), issuer=provider.issuer, client_id="renamed-client",
                           enabled=True, ip="203.0.113.9")
        sso.disable(db, owner(acme, "oscar"))
        events = db.scalars(select(AuditEvent).where(AuditEvent.action.in_(["sso.configured", "sso.disabled"]))
                            .order_by(AuditEvent.id)).all()
    owners = sorted([acme.users["olive"][0], acme.users["oscar"][0]])
    assert [e.action for e in events] == ["sso.configured", "sso.configured", "sso.disabled"]
    assert all(sorted(e.details["owners_notified"]) == owners for e in events)
    for address in ("olive@acme.test", "oscar@acme.test"):
        changed, disabled = mailbox.to(address)[-2:]
        assert changed["Subject"] == "Single sign-on changed for Acme"
        body = mailbox.body(changed)
        assert "Oscar set single sign-on to the provider" in body and "renamed-client" in body
        assert "203.0.113.9" in body and SECRET not in body
        assert "switched single sign-on off" in mailbox.body(disabled)


def test_settings_form_saves_for_a_stepped_up_owner_keeps_the_secret_and_disables(api, database, orgs,
                                                                                     provider) -> None:
    acme, _ = orgs
    password_sign_in(api, acme.users["olive"][1])
    with database.session() as db:  # the code step-up the session would have passed a minute ago
        db.execute(update(AuthSession).where(AuthSession.user_id == acme.users["olive"][0])
                   .values(mfa_verified_at=utcnow()))
        db.commit()
    form = {"issuer": provider.issuer, "client_id": "renamed-client", "client_secret": "", "enabled": "on"}
    saved = api.post("/settings/sso/save", data=form, headers=JSON)
    assert saved.json() == {"ok": True, "next": "/settings/sso?done=saved"}
    with database.session() as db:
        shown = sso.get_settings(db, acme.actor("ada", Role.ADMIN))
        assert (shown.client_id, shown.secret_set, shown.enabled) == ("renamed-client", True, True)
    refused = api.post("/settings/sso/save", data=form, headers={"Origin": "http://evil.example"})
    assert refused.status_code == 403
    off = api.post("/settings/sso/save", data={"action": "disable"}, headers=JSON)
    assert off.json() == {"ok": True, "next": "/settings/sso?done=disabled"}
    assert api.get("/auth/sso/start?org=acme", follow_redirects=False).headers["location"] == "/login?error=sso"


def test_client_secret_is_write_only_and_encrypted_at_rest(database, orgs) -> None:
    acme, _ = orgs
    with database.session() as db:
        shown = sso.get_settings(db, acme.actor("ada", Role.ADMIN))
        raw = db.execute(text("SELECT client_secret FROM sso_connection")).scalar_one()
        audit = db.scalars(select(AuditEvent).where(AuditEvent.action.like("sso.%"))).all()
    assert shown.secret_set and shown.client_id == CLIENT_ID and SECRET not in repr(shown)
    assert SECRET.encode() not in bytes(raw)
    assert [e.action for e in audit] == ["sso.configured"] and SECRET not in repr([e.details for e in audit])


# The provider's addresses ----------------------------------------------------------------------------------------

REFUSED_ISSUERS = [
    ("http://idp.example.com", "must use https"),
    ("https://127.0.0.1:8443", "must not point at a loopback, private or link-local address"),
    ("https://10.0.0.5", "must not point at a loopback, private or link-local address"),
    ("https://169.254.169.254", "must not point at a loopback, private or link-local address"),
    ("https://[::1]", "must not point at a loopback, private or link-local address"),
    ("https://[::ffff:192.168.1.1]", "must not point at a loopback, private or link-local address"),
    ("https://localhost:8443", "must not point at this machine"),
]


def test_an_issuer_that_is_not_https_on_a_public_host_is_refused(database, orgs, monkeypatch) -> None:
    acme, _ = orgs
    insecure_allowed(monkeypatch, False)
    for issuer, says in REFUSED_ISSUERS:
        with pytest.raises(InvalidInput, match=says):
            sso_flow.configure(database, owner(acme), issuer=issuer, client_id="x", client_secret="y", enabled=True)


def test_a_host_name_resolving_inside_our_network_is_never_connected_to(database, orgs, provider,
                                                                       monkeypatch) -> None:
    acme, _ = orgs
    insecure_allowed(monkeypatch, False)
    real = socket.getaddrinfo
    connected: list[Any] = []

    def hostile_dns(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "idp.corp.test":  # a public-looking name whose DNS answer is an inside address
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]
        return real(host, port, *args, **kwargs)

    def no_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
        connected.append(address)
        raise OSError("the test forbids connecting")

    monkeypatch.setattr(socket, "getaddrinfo", hostile_dns)
    monkeypatch.setattr(socket, "create_connection", no_connection)
    with pytest.raises(InvalidInput) as refused:
        sso_flow.configure(database, owner(acme), issuer="https://idp.corp.test", client_id="x", client_secret="y",
                           enabled=True)
    assert connected == [] and "10.0.0.7" not in str(refused.value)
    # The loopback provider that works under the development setting is refused without it.
    with pytest.raises(InvalidInput):
        sso_flow.configure(database, owner(acme), issuer=provider.issuer, client_id="x", client_secret="y",
                           enabled=True)
    assert connected == []


def test_endpoints_on_another_host_are_refused(database, orgs, fresh_provider) -> None:
    acme, _ = orgs
    for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        fresh_provider.rewrite_discovery = lambda document, key=endpoint: {**document, key: "https://evil.example/x"}
        with pytest.raises(InvalidInput, match="not on the issuer's host"):
            sso_flow.configure(database, owner(acme), issuer=fresh_provider.issuer, client_id="x", client_secret="y",
                               enabled=True)


@pytest.fixture
def silent_ports() -> Iterator[dict[str, int]]:
    """A closed port, a port that speaks another protocol and hangs up, and a web server without OIDC."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    stop = threading.Event()

    def banner() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

    thread = threading.Thread(target=banner, daemon=True)
    thread.start()
    with running_provider([]) as web:
        yield {"closed": closed_port, "ssh": listener.getsockname()[1], "web": int(web.issuer.rsplit(":", 1)[1])}
    stop.set()
    thread.join(5)
    listener.close()


def test_an_unreachable_provider_gets_one_message_whatever_the_port_did(database, orgs, silent_ports,
                                                                        caplog) -> None:
    acme, _ = orgs
    said = {}
    caplog.set_level(logging.WARNING, logger="pkcrm.sso")
    for kind, port in silent_ports.items():
        issuer = f"http://127.0.0.1:{port}" + ("/no-such-tenant" if kind == "web" else "")
        with pytest.raises(InvalidInput) as refused:
            sso_flow.configure(database, owner(acme), issuer=issuer, client_id="x", client_secret="y", enabled=True)
        said[kind] = str(refused.value)
    assert len(set(said.values())) == 1, said  # closed, open but not HTTP, HTTP without a provider: the same words
    assert said["closed"].startswith("Could not reach the provider")
    assert str(silent_ports["closed"]) not in said["closed"]
    details = "\n".join(record.getMessage() for record in caplog.records)  # the server log keeps what happened
    assert "ConnectError" in details and "answered 404" in details
    assert all(f"127.0.0.1:{port}/" in details for port in silent_ports.values())


# Network outside transactions, caching, single-use state, checked redirects -------------------------------------

def test_discovery_and_keys_are_cached_and_fetched_outside_transactions(api, database, orgs, fresh_provider) -> None:
    acme, _ = orgs
    held: list[tuple[str, int]] = []
    fresh_provider.on_request = lambda path: held.append((path, database.engine.pool.checkedout()))
    sso_flow.configure(database, owner(acme), issuer=fresh_provider.issuer, client_id=CLIENT_ID,
                       client_secret=SECRET, enabled=True)
    for _ in range(3):  # each goes all the way: start, code exchange, ID token checked with the provider's keys
        sign_in(api, "alice")
    fetched = [path for path, _ in held]
    assert fetched.count(DISCOVERY) == 1 and fetched.count("/jwks") == 1 and fetched.count("/oauth2/token") == 3
    assert [(path, count) for path, count in held if count] == [], "a connection was held while the provider answered"
    assert link(api, acme.users["alice"][1], "alice").headers["location"] == "/profile?sso=linked"
    assert sign_in(api, "alice").headers["location"] == "/board"
    fetched = [path for path, _ in held]
    assert fetched.count(DISCOVERY) == 1 and fetched.count("/jwks") == 1 and fetched.count("/oauth2/token") == 5
    assert [(path, count) for path, count in held if count] == []


def test_a_failed_callback_spends_its_state(api, database, orgs) -> None:
    location = approve_at_provider(start(api), "alice")
    state = api.cookies.get(STATE_COOKIE)
    api.cookies.delete(STATE_COOKIE, path="/auth/sso")  # the callback arrives without the browser's state
    assert_refused(callback(api, location), database, "state does not match the one issued to this browser")
    api.cookies.set(STATE_COOKIE, state, path="/auth/sso")  # the right browser, too late: the state is spent
    assert_refused(callback(api, location), database, "state already used")


def test_start_redirects_only_to_a_checked_endpoint(api, database, orgs, fresh_provider, caplog) -> None:
    _, globex = orgs
    with database.session() as db:  # configured while the document was fine; the provider changed it since
        db.add(SsoConnection(org_id=globex.org_id, issuer=fresh_provider.issuer, client_id="globex", enabled=True,
                             client_secret="globex-secret"))
        db.commit()
    caplog.set_level(logging.INFO, logger="pkcrm.sso")
    for evil in ("https://evil.example/authorize", "javascript:alert(document.cookie)"):
        fresh_provider.rewrite_discovery = lambda document, url=evil: {**document, "authorization_endpoint": url}
        response = api.get("/auth/sso/start?org=globex", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login?error=sso"
        assert STATE_COOKIE not in response.cookies
    assert "not on the issuer's host" in caplog.text


# The protocol checks ----------------------------------------------------------------------------------------------

def test_tampered_state_is_refused(api, database, orgs) -> None:
    location = approve_at_provider(start(api), "alice")
    state = parse_qs(urlsplit(location).query)["state"][0]
    tampered = location.replace(f"state={state}", f"state={state[:-2]}xy")
    assert_refused(callback(api, tampered), database, "state does not match the one issued to this browser")
    # A state the app never issued is refused even when the browser's cookie carries the same value.
    with pytest.raises(sso_login.SsoFailed) as refused:
        sso_flow.finish_login(database, state="made-up", browser_state="made-up", code="x", ip="", user_agent="",
                              hours=1)
    assert refused.value.reason == "unknown state"


def test_reused_or_expired_state_is_refused(api, database, orgs) -> None:
    acme, _ = orgs
    link(api, acme.users["alice"][1], "alice")
    api.cookies.clear()
    location = approve_at_provider(start(api), "alice")
    state = parse_qs(urlsplit(location).query)["state"][0]
    assert callback(api, location).status_code == 303 and failures(database) == []
    api.cookies.set(STATE_COOKIE, state, path="/auth/sso")  # even with the state cookie kept, a replay fails
    assert_refused(callback(api, location), database, "state already used")
    api.cookies.clear()
    late = approve_at_provider(start(api), "alice")
    with database.session() as db:
        db.execute(update(SsoLoginAttempt).where(SsoLoginAttempt.used_at.is_(None))
                   .values(expires_at=utcnow()))
        db.commit()
    assert_refused(callback(api, late), database, "state expired")


def test_organisation_without_single_sign_on_cannot_start(api, database, orgs) -> None:
    response = api.get("/auth/sso/start?org=globex", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?error=sso"


def test_id_token_for_another_client_is_refused(api, database, orgs, provider) -> None:
    provider.rewrite_id_token = provider.other_audience("someone-elses-app")
    assert_refused(sign_in(api, "alice"), database, "ID token audience mismatch")


def test_id_token_with_another_nonce_is_refused(api, database, orgs, provider) -> None:
    provider.rewrite_id_token = lambda _token: provider.id_token_for(CLIENT_ID, "alice", "another-nonce")
    assert_refused(sign_in(api, "alice"), database, "ID token nonce mismatch")


def test_id_token_with_a_broken_signature_is_refused(api, database, orgs, provider) -> None:
    provider.rewrite_id_token = provider.broken_signature
    assert_refused(sign_in(api, "alice"), database, "ID token signature invalid (BadSignatureError)")
