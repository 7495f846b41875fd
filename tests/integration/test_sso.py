"""Single sign-on against a real OpenID provider on loopback: who gets in, and every way a sign-in is refused."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import oidc_provider_mock
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import select, text, update

from pkcrm_app.accounts import service as accounts
from pkcrm_app.accounts.models import Membership
from pkcrm_app.accounts.permissions import Role
from pkcrm_app.accounts.sso import login as sso_login
from pkcrm_app.accounts.sso import service as sso
from pkcrm_app.accounts.sso.models import SsoLoginAttempt
from pkcrm_app.audit.models import AuditEvent
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import InvalidInput, PermissionDenied
from pkcrm_app.routes.auth import SESSION_COOKIE
from pkcrm_app.routes.sso import STATE_COOKIE
from tests.support.data import PASSWORD, make_org
from tests.support.oidc_provider import MockProvider, running_provider

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # raised inside the provider mock
CLIENT_ID, SECRET = "pkcrm-acme", "s3cret-value-that-must-never-leak"


def user(sub: str, email: str, verified: bool = True) -> oidc_provider_mock.User:
    return oidc_provider_mock.User(sub=sub, claims={"email": email, "email_verified": verified, "name": sub})


@pytest.fixture(scope="module")
def provider() -> Iterator[MockProvider]:
    users = [user("alice", "Alice@Acme.test"), user("unverified", "alice@acme.test", verified=False),
             user("stranger", "stranger@acme.test"), user("bob", "bob@globex.test"), user("olga", "olga@acme.test")]
    with running_provider(users) as running:
        yield running


@pytest.fixture
def orgs(database, provider):  # type: ignore[no-untyped-def]
    provider.rewrite_id_token = None
    acme = make_org(database, "acme", "1001", {"ada": Role.ADMIN, "alice": Role.AGENT, "olga": Role.AGENT})
    globex = make_org(database, "globex", "2002", {"bob": Role.AGENT})
    with database.session() as db:
        sso.configure(db, acme.actor("ada", Role.ADMIN), issuer=provider.issuer + "/", client_id=CLIENT_ID,
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
    return callback(api, approve_at_provider(start(api, org), sub))


def failures(database) -> list[str]:  # type: ignore[no-untyped-def]
    with database.session() as db:
        events = db.scalars(select(AuditEvent).where(AuditEvent.action == "login.failed").order_by(AuditEvent.id))
        return [str((e.details or {}).get("reason")) for e in events]


def assert_refused(response, database, reason: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 303 and response.headers["location"] == "/login?error=sso"
    assert SESSION_COOKIE not in response.cookies
    assert failures(database)[-1] == reason


def test_verified_email_of_a_member_signs_in_to_that_organisation(api, database, orgs, provider) -> None:
    acme, _ = orgs
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
    assert info is not None and (info.email, info.actor.org_id) == ("alice@acme.test", acme.org_id)
    assert [e.details for e in succeeded] == [{"method": "sso"}]


def test_unverified_email_is_refused(api, database, orgs) -> None:
    assert_refused(sign_in(api, "unverified"), database, "email not verified by the provider")


def test_email_of_someone_outside_the_organisation_is_refused(api, database, orgs) -> None:
    assert_refused(sign_in(api, "stranger"), database, "no member of this organisation has that email")
    # Bob is a member of Globex, not of Acme: Acme's provider cannot sign him in anywhere.
    assert_refused(sign_in(api, "bob"), database, "no member of this organisation has that email")


def test_deactivated_member_is_refused(api, database, orgs) -> None:
    acme, _ = orgs
    with database.session() as db:
        db.execute(update(Membership).where(Membership.user_id == acme.users["olga"][0]).values(is_active=False))
        db.commit()
    assert_refused(sign_in(api, "olga"), database, "member is deactivated")


def test_organisation_without_single_sign_on_cannot_start(api, database, orgs) -> None:
    response = api.get("/auth/sso/start?org=globex", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?error=sso"


def test_tampered_state_is_refused(api, database, orgs) -> None:
    location = approve_at_provider(start(api), "alice")
    state = parse_qs(urlsplit(location).query)["state"][0]
    tampered = location.replace(f"state={state}", f"state={state[:-2]}xy")
    assert_refused(callback(api, tampered), database, "state does not match the one issued to this browser")
    # A state the app never issued is refused even when the browser's cookie carries the same value.
    with database.session() as db, pytest.raises(sso_login.SsoFailed) as refused:
        sso_login.finish_login(db, state="made-up", browser_state="made-up", code="x", ip="", user_agent="", hours=1)
    assert refused.value.reason == "unknown state"


def test_reused_or_expired_state_is_refused(api, database, orgs) -> None:
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


def test_id_token_for_another_client_is_refused(api, database, orgs, provider) -> None:
    provider.rewrite_id_token = provider.other_audience("someone-elses-app")
    assert_refused(sign_in(api, "alice"), database, "ID token audience mismatch")


def test_id_token_with_another_nonce_is_refused(api, database, orgs, provider) -> None:
    provider.rewrite_id_token = lambda _token: provider.id_token_for(CLIENT_ID, "alice", "another-nonce")
    assert_refused(sign_in(api, "alice"), database, "ID token nonce mismatch")


def test_id_token_with_a_broken_signature_is_refused(api, database, orgs, provider) -> None:
    provider.rewrite_id_token = provider.broken_signature
    assert_refused(sign_in(api, "alice"), database, "ID token signature invalid (BadSignatureError)")


def test_client_secret_is_write_only_and_encrypted_at_rest(database, orgs) -> None:
    acme, _ = orgs
    admin = acme.actor("ada", Role.ADMIN)
    with database.session() as db:
        shown = sso.get_settings(db, admin)
        raw = db.execute(text("SELECT client_secret FROM sso_connection")).scalar_one()
        audit = db.scalars(select(AuditEvent).where(AuditEvent.action.like("sso.%"))).all()
    assert shown.secret_set and shown.client_id == CLIENT_ID and SECRET not in repr(shown)
    assert SECRET.encode() not in bytes(raw)
    assert [e.action for e in audit] == ["sso.configured"] and SECRET not in repr([e.details for e in audit])


def test_only_admins_configure_and_a_wrong_issuer_gets_a_clear_error(database, orgs, provider) -> None:
    acme, _ = orgs
    with database.session() as db:
        with pytest.raises(PermissionDenied):
            sso.configure(db, acme.actor("alice"), issuer=provider.issuer, client_id="x", client_secret="y",
                          enabled=True)
        with pytest.raises(InvalidInput, match="did not answer"):
            sso.configure(db, acme.actor("ada", Role.ADMIN), issuer="http://127.0.0.1:9", client_id="x",
                          enabled=True)
        with pytest.raises(InvalidInput, match="https"):
            sso.configure(db, acme.actor("ada", Role.ADMIN), issuer="http://idp.example.com", client_id="x",
                          enabled=True)
        assert "Discovery OK" in sso.check_discovery(db, acme.actor("ada", Role.ADMIN))


def admin_cookie(api, email: str) -> None:  # type: ignore[no-untyped-def]
    response = api.post("/auth/login", data={"email": email, "password": PASSWORD}, follow_redirects=False)
    assert response.headers["location"] == "/board"


def test_settings_form_saves_keeps_the_secret_and_disables(api, database, orgs, provider) -> None:
    acme, _ = orgs
    admin_cookie(api, acme.users["ada"][1])
    form = {"issuer": provider.issuer, "client_id": "renamed-client", "client_secret": "", "enabled": "on"}
    saved = api.post("/settings/sso/save", data=form, headers={"Accept": "application/json"})
    assert saved.json() == {"next": "/settings/sso?done=saved"}
    with database.session() as db:
        shown = sso.get_settings(db, acme.actor("ada", Role.ADMIN))
        assert (shown.client_id, shown.secret_set, shown.enabled) == ("renamed-client", True, True)
    refused = api.post("/settings/sso/save", data=form, headers={"Origin": "http://evil.example"})
    assert refused.status_code == 403
    off = api.post("/settings/sso/save", data={"action": "disable"}, headers={"Accept": "application/json"})
    assert off.json() == {"next": "/settings/sso?done=disabled"}
    assert api.get("/auth/sso/start?org=acme", follow_redirects=False).headers["location"] == "/login?error=sso"


def test_settings_form_refuses_an_agent(api, database, orgs, provider) -> None:
    acme, _ = orgs
    admin_cookie(api, acme.users["alice"][1])
    answer = api.post("/settings/sso/save", data={"issuer": provider.issuer, "client_id": "x", "client_secret": "y"},
                      headers={"Accept": "application/json"})
    assert answer.json()["next"].startswith("/settings/sso?error=")
    with database.session() as db:
        assert sso.get_settings(db, acme.actor("ada", Role.ADMIN)).client_id == CLIENT_ID
