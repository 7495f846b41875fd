"""Single sign-on in Chromium: the real app, a real OpenID provider on loopback, and the refusals a user sees."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import oidc_provider_mock
import pytest
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import select

from pkcrm_app.accounts.permissions import Role
from pkcrm_app.accounts.sso import service as sso
from pkcrm_app.audit.models import AuditEvent
from pkcrm_app.core.crypto import MasterKeys
from pkcrm_app.core.db import Database
from pkcrm_app.core.migrate import upgrade_to_head
from tests.e2e.conftest import ARTIFACTS
from tests.support.app_server import AppServer, port_is_free
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, chromium_missing
from tests.support.data import PASSWORD, make_org
from tests.support.oidc_provider import MockProvider, running_provider

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
PORTS = range(3200, 3300)
WAIT = 15_000  # ms


@dataclass
class SsoApp:
    url: str
    provider: MockProvider
    admin_email: str
    database_url: str

    def refusal_reasons(self) -> list[str]:
        """Why sign-ins were refused, as the audit log recorded it."""
        database = Database(self.database_url, MasterKeys.parse(os.environ["PKCRM_MASTER_KEY"]))
        try:
            with database.session() as db:
                events = db.scalars(select(AuditEvent).where(AuditEvent.action == "login.failed")
                                    .order_by(AuditEvent.id)).all()
                return [str((event.details or {}).get("reason")) for event in events]
        finally:
            database.dispose()


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
    env = {"DATABASE_URL": url, "PKCRM_INSTANCE_DIR": str(tmp), "PKCRM_MASTER_KEY": os.environ["PKCRM_MASTER_KEY"]}
    users = [oidc_provider_mock.User(sub=sub, claims={"email": email, "email_verified": True})
             for sub, email in (("alice", "alice@acme.test"), ("bob", "bob@globex.test"))]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with running_provider(users) as provider:
        upgrade_to_head(url)
        database = Database(url, MasterKeys.parse(env["PKCRM_MASTER_KEY"]))
        acme = make_org(database, "acme", "1001", {"ada": Role.ADMIN, "alice": Role.AGENT})
        make_org(database, "globex", "2002", {"bob": Role.AGENT})
        with database.session() as db:
            sso.configure(db, acme.actor("ada", Role.ADMIN), issuer=provider.issuer, client_id="pkcrm-e2e",
                          client_secret="e2e-client-secret", enabled=True)
        database.dispose()
        server = AppServer(env, tmp / "sso-ui.log", port=port)
        try:
            server.start()
            yield SsoApp(server.url, provider, acme.users["ada"][1], url)
        finally:
            server.stop()
            log: Path = tmp / "sso-ui.log"
            if log.exists():
                (ARTIFACTS / "sso-ui.log").write_bytes(log.read_bytes())


def start_single_sign_on(page: Page, app: SsoApp, org: str = "acme") -> None:
    page.goto(app.url + "/login")
    page.fill("#sso-org", org)
    page.click("#sso-sign-in")
    page.wait_for_url(app.provider.issuer + "/oauth2/authorize**")


def authorize_at_provider(page: Page, sub: str) -> None:
    """What a person does at the provider's page: type who they are and authorise."""
    page.fill("input[name=sub]", sub)
    page.get_by_role("button", name="Authorize", exact=True).click()


def expect_sso_refused(page: Page) -> None:
    page.wait_for_url(re.compile(r".*/login/?\?error=sso$"))
    expect(page.locator("#login-error")).to_contain_text("Single sign-on could not sign you in", timeout=WAIT)


def test_single_sign_on_in_chromium(sso_app: SsoApp) -> None:
    sso_app.provider.rewrite_id_token = None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        # Alice signs in through Acme's provider and lands on her board.
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

        # Bob is a verified user at the provider but not a member of Acme: refused.
        bob = browser.new_context().new_page()
        start_single_sign_on(bob, sso_app)
        authorize_at_provider(bob, "bob")
        expect_sso_refused(bob)
        browser.close()
    assert sso_app.refusal_reasons() == ["state does not match the one issued to this browser",
                                         "ID token audience mismatch", "no member of this organisation has that email"]


def test_admin_sees_settings_without_the_secret(sso_app: SsoApp) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.goto(sso_app.url + "/login")
        page.fill("input[name=email]", sso_app.admin_email)
        page.fill("input[name=password]", PASSWORD)
        page.click("#sign-in")
        page.wait_for_url(re.compile(r".*/board/?$"))
        page.click("#nav-settings")
        page.wait_for_url(re.compile(r".*/settings/?$"))
        page.click("#settings-sso-link")
        page.wait_for_url(re.compile(r".*/settings/sso/?$"))
        expect(page.locator("#sso-redirect-uri")).to_have_text(sso_app.url + "/auth/sso/callback", timeout=WAIT)
        expect(page.locator("#sso-issuer")).to_have_value(sso_app.provider.issuer, timeout=WAIT)
        expect(page.locator("#sso-client-secret")).to_have_value("")
        expect(page.locator("#sso-client-secret")).to_have_attribute("placeholder", "A secret is stored; leave empty "
                                                                                    "to keep it")
        assert "e2e-client-secret" not in page.content()
        page.click("#sso-test")
        expect(page.locator("#sso-notice")).to_contain_text("Discovery OK", timeout=WAIT)
        page.fill("#sso-client-id", "pkcrm-e2e")
        page.fill("#sso-client-secret", "e2e-client-secret")
        page.click("#sso-save")
        page.wait_for_url(re.compile(r".*/settings/sso/?\?done=saved$"))
        expect(page.locator("#sso-notice")).to_have_text("Single sign-on settings saved.", timeout=WAIT)
        expect(page.locator("#sso-status")).to_have_text("enabled")
        page.screenshot(path=str(ARTIFACTS / "sso-settings.png"))
        browser.close()
