"""Single sign-on in Chromium: the real app, a real OpenID provider on loopback, and what a user sees.

A member links their provider account on their profile (confirming their password) before single sign-on
signs them in; an unlinked account is refused with a message that says so. Admins only read the settings;
an owner changes them after a fresh code and opts in to being signed in by the provider. The provider is plain
http on loopback, which the app accepts only under PKCRM_SSO_ALLOW_INSECURE (set here, never in production).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import oidc_provider_mock
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import select, update

from pkcrm_app.accounts.identity import mfa
from pkcrm_app.accounts.identity.models import AuthSession
from pkcrm_app.accounts.identity.sso.models import SsoLink
from pkcrm_app.audit.models import AuditEvent
from pkcrm_app.core.authz import Actor, Role
from pkcrm_app.core.crypto import MasterKeys
from pkcrm_app.core.db import Database, utcnow
from pkcrm_app.core.migrate import upgrade_to_head
from pkcrm_app.flows import sso as sso_flow
from pkcrm_app.settings import get_settings
from tests.e2e.conftest import ARTIFACTS
from tests.support.app_server import AppServer, port_is_free
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, chromium_missing
from tests.support.data import PASSWORD, OrgFixture, make_org
from tests.support.oidc_provider import MockProvider, running_provider

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
PORTS = range(3200, 3300)
WAIT = 15_000  # ms
UNLINKED = "not linked to a member yet"


@dataclass
class SsoApp:
    url: str
    provider: MockProvider
    acme: OrgFixture
    database_url: str
    instance: Path
    owner_secret: str  # the owner's authenticator secret
    recovery_codes: list[str]

    def database(self) -> Database:
        return Database(self.database_url, MasterKeys.parse(os.environ["PKCRM_MASTER_KEY"]))

    def audited(self, action: str) -> list[AuditEvent]:
        database = self.database()
        try:
            with database.session() as db:
                return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))
        finally:
            database.dispose()

    def refusal_reasons(self) -> list[str]:
        """Why sign-ins were refused, as the audit log recorded it."""
        return [str((event.details or {}).get("reason")) for event in self.audited("login.failed")]


@pytest.fixture(scope="module")
def sso_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SsoApp]:
    """The app on a free port in 3200-3299, Acme signing in through the provider, Globex with passwords only."""
    if reason := chromium_missing():
        pytest.skip(reason)
    port = next((p for p in PORTS if port_is_free(p)), None)
    if port is None:
        pytest.skip("no free port in 3200-3299")
    tmp = tmp_path_factory.mktemp("sso-e2e")
    url = f"sqlite:///{tmp / 'e2e.db'}"
    env = {"DATABASE_URL": url, "PKCRM_INSTANCE_DIR": str(tmp), "PKCRM_MASTER_KEY": os.environ["PKCRM_MASTER_KEY"],
           "PKCRM_SSO_ALLOW_INSECURE": "1", "PKCRM_SMTP_HOST": ""}
    users = [oidc_provider_mock.User(sub=sub, claims={"email": email, "email_verified": True})
             for sub, email in (("alice", "alice@acme.test"), ("carol", "carol@acme.test"), ("bob", "bob@globex.test"),
                                ("olive", "olive@acme.test"))]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with running_provider(users) as provider, pytest.MonkeyPatch.context() as patch:
        for name in ("PKCRM_INSTANCE_DIR", "PKCRM_SSO_ALLOW_INSECURE", "PKCRM_SMTP_HOST"):
            patch.setenv(name, env[name])  # the seeding below reads the provider and mails the owner, like the app
        get_settings.cache_clear()
        upgrade_to_head(url)
        database = Database(url, MasterKeys.parse(env["PKCRM_MASTER_KEY"]))
        acme = make_org(database, "acme", "1001", {"olive": Role.OWNER, "ada": Role.ADMIN, "alice": Role.AGENT,
                                                   "carol": Role.AGENT})
        make_org(database, "globex", "2002", {"bob": Role.AGENT})
        olive_id = acme.users["olive"][0]
        with database.session() as db:
            secret = mfa.begin_enrolment(db, olive_id).secret
            codes = mfa.confirm_enrolment(db, olive_id, mfa.code_at(secret), org_id=acme.org_id)
            db.commit()
            owner = Actor(user_id=olive_id, org_id=acme.org_id, role=Role.OWNER, stepped_up=True)
            sso_flow.configure(database, owner, issuer=provider.issuer, client_id="pkcrm-e2e",
                               client_secret="e2e-client-secret", enabled=True)
        database.dispose()
        get_settings.cache_clear()
        server = AppServer(env, tmp / "sso-ui.log", port=port)
        try:
            server.start()
            yield SsoApp(server.url, provider, acme, url, tmp, secret, codes)
        finally:
            server.stop()
            log: Path = tmp / "sso-ui.log"
            if log.exists():
                (ARTIFACTS / "sso-ui.log").write_bytes(log.read_bytes())
    get_settings.cache_clear()


def start_single_sign_on(page: Page, app: SsoApp, org: str = "acme") -> None:
    page.goto(app.url + "/login")
    page.fill("#sso-org", org)
    page.click("#sso-sign-in")
    page.wait_for_url(app.provider.issuer + "/oauth2/authorize**")


def authorize_at_provider(page: Page, sub: str) -> None:
    """What a person does at the provider's page: type who they are and authorise."""
    page.fill("input[name=sub]", sub)
    page.get_by_role("button", name="Authorize", exact=True).click()


def expect_sso_refused(page: Page, says: str = "Single sign-on could not sign you in") -> None:
    page.wait_for_url(re.compile(r".*/login/?\?error=sso(-[a-z]+)?$"))
    expect(page.locator("#login-error")).to_contain_text(says, timeout=WAIT)


def password_sign_in(browser: Browser, app: SsoApp, email: str, height: int = 900) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": height}).new_page()
    page.goto(app.url + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("#sign-in")
    return page


def link_on_profile(page: Page, app: SsoApp, sub: str) -> None:
    """The profile's card: confirm the password, pick the account at the provider, come back linked."""
    page.goto(app.url + "/profile")
    expect(page.locator("#sso-link-status")).to_contain_text("Not linked", timeout=WAIT)
    page.fill("#sso-link-password", PASSWORD)
    page.click("#sso-link")
    page.wait_for_url(app.provider.issuer + "/oauth2/authorize**")
    authorize_at_provider(page, sub)
    page.wait_for_url(re.compile(r".*/profile/?\?sso=linked$"))
    expect(page.locator("#sso-link-notice")).to_contain_text("Single sign-on is linked", timeout=WAIT)
    expect(page.locator("#sso-link-status")).to_contain_text(app.provider.issuer)


def test_single_sign_on_in_chromium(sso_app: SsoApp) -> None:
    sso_app.provider.rewrite_id_token = None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        # Carol has a verified account at the provider with her email, but never linked it: refused, told why.
        carol = browser.new_context().new_page()
        start_single_sign_on(carol, sso_app)
        authorize_at_provider(carol, "carol")
        expect_sso_refused(carol, UNLINKED)
        carol.screenshot(path=str(ARTIFACTS / "sso-unlinked-refused.png"))

        # Alice signs in with her password and links her provider account on her profile.
        linking = password_sign_in(browser, sso_app, sso_app.acme.users["alice"][1])
        linking.wait_for_url(re.compile(r".*/board/?$"))
        link_on_profile(linking, sso_app, "alice")
        linking.screenshot(path=str(ARTIFACTS / "sso-linked-profile.png"))

        # From then on the provider signs her in and she lands on her board.
        page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        start_single_sign_on(page, sso_app)
        query = parse_qs(urlsplit(page.url).query)
        assert query["code_challenge_method"] == ["S256"] and query["client_id"] == ["pkcrm-e2e"]
        page.screenshot(path=str(ARTIFACTS / "sso-provider-form.png"))
        authorize_at_provider(page, "alice")
        page.wait_for_url(re.compile(r".*/board/?$"))
        expect(page.locator("#org-name")).to_have_text("Acme", timeout=WAIT)
        expect(page.locator("#user-name")).to_have_text("Alice", timeout=WAIT)
        page.screenshot(path=str(ARTIFACTS / "sso-signed-in-board.png"))

        # A state changed on the way back is refused: the browser lands on the login page with the SSO error.
        tampered = browser.new_context().new_page()
        start_single_sign_on(tampered, sso_app)
        state = parse_qs(urlsplit(tampered.url).query)["state"][0]
        tampered.goto(tampered.url.replace(f"state={state}", f"state={state[:-3]}abc"))
        authorize_at_provider(tampered, "alice")
        expect_sso_refused(tampered)
        expect(tampered.locator("#org-name")).to_have_count(0)
        tampered.screenshot(path=str(ARTIFACTS / "sso-tampered-state-refused.png"))

        # An ID token the provider issued to another application (wrong audience) is refused.
        sso_app.provider.rewrite_id_token = sso_app.provider.other_audience("someone-elses-app")
        try:
            other = browser.new_context().new_page()
            start_single_sign_on(other, sso_app)
            authorize_at_provider(other, "alice")
            expect_sso_refused(other)
            other.screenshot(path=str(ARTIFACTS / "sso-wrong-audience-refused.png"))
        finally:
            sso_app.provider.rewrite_id_token = None

        # Bob is a verified user at the provider but no member of Acme linked his account: refused.
        bob = browser.new_context().new_page()
        start_single_sign_on(bob, sso_app)
        authorize_at_provider(bob, "bob")
        expect_sso_refused(bob, UNLINKED)
        browser.close()
    assert sso_app.refusal_reasons() == ["provider account not linked to a member",
                                         "state does not match the one issued to this browser",
                                         "ID token audience mismatch", "provider account not linked to a member"]


def test_admin_reads_the_settings_and_the_owner_changes_them_with_a_code(sso_app: SsoApp) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        # The admin sees the settings without the secret, can test discovery, and cannot change anything.
        page = password_sign_in(browser, sso_app, sso_app.acme.users["ada"][1])
        page.wait_for_url(re.compile(r".*/board/?$"))
        page.click("#nav-settings")
        page.wait_for_url(re.compile(r".*/settings/?$"))
        page.click("#settings-sso-link")
        page.wait_for_url(re.compile(r".*/settings/sso/?$"))
        expect(page.locator("#sso-redirect-uri")).to_have_text(sso_app.url + "/auth/sso/callback", timeout=WAIT)
        expect(page.locator("#sso-issuer")).to_have_value(sso_app.provider.issuer, timeout=WAIT)
        expect(page.locator("#sso-issuer")).to_be_disabled()
        expect(page.locator("#sso-owner-only")).to_contain_text("Only an owner can change single sign-on")
        expect(page.locator("#sso-save")).to_have_count(0)
        expect(page.locator("#sso-client-secret")).to_have_value("")
        assert "e2e-client-secret" not in page.content()
        page.click("#sso-test")
        expect(page.locator("#sso-notice")).to_contain_text("Discovery OK", timeout=WAIT)
        page.screenshot(path=str(ARTIFACTS / "sso-settings-admin.png"))

        # The owner signs in (password, then a code), and her code is old by the time she saves.
        owner_id, owner_email = sso_app.acme.users["olive"]
        owner = password_sign_in(browser, sso_app, owner_email)
        owner.wait_for_url(re.compile(r".*/login/verify/?(\?.*)?$"), timeout=WAIT)
        owner.fill("#login-code", sso_app.recovery_codes[0])
        owner.click("#verify-code")
        owner.wait_for_url(re.compile(r".*/board/?$"), timeout=WAIT)
        database = sso_app.database()
        with database.session() as db:
            db.execute(update(AuthSession).where(AuthSession.user_id == owner_id)
                       .values(mfa_verified_at=utcnow() - timedelta(minutes=10)))
            db.commit()
        owner.goto(sso_app.url + "/settings/sso")
        expect(owner.locator("#sso-issuer")).to_have_value(sso_app.provider.issuer, timeout=WAIT)
        expect(owner.locator("#sso-client-secret")).to_have_attribute(
            "placeholder", "A secret is stored; leave empty to keep it")
        owner.fill("#sso-client-id", "pkcrm-e2e")
        owner.fill("#sso-client-secret", "e2e-client-secret")
        owner.click("#sso-save")
        expect(owner.locator("#step-up-code")).to_be_visible(timeout=WAIT)
        owner.screenshot(path=str(ARTIFACTS / "sso-settings-step-up.png"))
        owner.fill("#step-up-code", sso_app.recovery_codes[1])
        owner.click("#step-up-confirm")
        owner.wait_for_url(re.compile(r".*/settings/sso/?\?done=saved$"), timeout=WAIT)
        expect(owner.locator("#sso-notice")).to_contain_text("Single sign-on settings saved", timeout=WAIT)
        expect(owner.locator("#sso-status")).to_have_text("enabled")
        owner.screenshot(path=str(ARTIFACTS / "sso-settings.png"))

        # The owner links her own account, then opts in (the code she just gave is still fresh).
        link_on_profile(owner, sso_app, "olive")
        expect(owner.locator("#sso-owner-sign-in")).to_be_visible(timeout=WAIT)
        owner.click("#sso-owner-sign-in")
        expect(owner.locator("#sso-link-notice")).to_contain_text("Single sign-on may sign you in", timeout=WAIT)
        owner.screenshot(path=str(ARTIFACTS / "sso-owner-opt-in.png"))
        browser.close()
    with database.session() as db:
        opted_in = db.scalars(select(SsoLink.owner_sign_in).where(SsoLink.user_id == owner_id)).one()
    database.dispose()
    assert opted_in is True
    assert [e.details["secret_changed"] for e in sso_app.audited("sso.configured")] == [True, True]
    assert len(sso_app.audited("sso.owner_sign_in")) == 1
    subjects = [str(message_from_bytes(path.read_bytes(), policy=policy.default)["Subject"])
                for path in sorted((sso_app.instance / "outbox").glob("*.eml"))]
    assert subjects.count("Single sign-on changed for Acme") == 3  # seeding, the owner's save, her opt-in
