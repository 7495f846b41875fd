"""The built app under its Content Security Policy in Chromium: every page, signed out and as an owner, runs
without one violation; and the /_event websocket refuses a handshake from any origin but the app's own."""

from __future__ import annotations

import json
import os
import uuid

import pytest
import websockets
from playwright.sync_api import Browser, Page, sync_playwright
from websockets.sync.client import connect

from pkcrm_app.accounts.identity.service import add_member, create_user
from pkcrm_app.core.authz import Role
from pkcrm_app.core.crypto import MasterKeys
from pkcrm_app.core.db import Database
from tests.e2e.conftest import ARTIFACTS, LiveApp
from tests.support.app_server import PROJECT_ROOT
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.data import PASSWORD

pytestmark = pytest.mark.e2e
OWNER = "olga@acme.test"
# Installed before any page script runs: keeps every violation the page reports.
LISTEN = """window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(
  `${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber} ${e.sample}`));"""


def page_routes() -> list[str]:
    """Every page the build serves, from the route manifest Reflex wrote for the build the app server made."""
    names = json.loads((PROJECT_ROOT / ".web" / "routes.json").read_text())
    routes = ["/" if name == "index" else "/no-such-page" if name == "404" else f"/{name}" for name in names]
    assert {"/", "/login", "/board", "/audit", "/settings/sso", "/mfa/setup"} <= set(routes), routes
    return routes


def add_owner(app: LiveApp) -> None:
    database = Database(app.ui.env["DATABASE_URL"], MasterKeys.parse(os.environ["PKCRM_MASTER_KEY"]))
    try:
        with database.session() as db:
            user = create_user(db, email=OWNER, name="Olga", password=PASSWORD)
            add_member(db, org_id=app.acme.org_id, user_id=user.id, role=Role.OWNER)
    finally:
        database.dispose()


class Watched:
    """One tab whose CSP violations (DOM events and console reports) are collected per page visited."""

    def __init__(self, browser: Browser, width: int) -> None:
        context = browser.new_context(viewport={"width": width, "height": 900})
        context.add_init_script(LISTEN)
        self.page: Page = context.new_page()
        self.console: list[str] = []
        self.page.on("console", lambda message: self.console.append(message.text)
                     if "Content Security Policy" in message.text else None)

    def visit(self, url: str) -> list[str]:
        self.console.clear()
        self.page.goto(url)
        self.page.wait_for_load_state("networkidle")
        self.page.wait_for_timeout(500)  # hydration, the websocket and on_load handlers (eval'd callbacks) run
        return [*self.page.evaluate("window.__cspViolations"), *self.console]

    def sign_in(self, base_url: str) -> None:
        self.page.goto(base_url + "/login")
        self.page.fill("input[name=email]", OWNER)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("#sign-in")
        self.page.wait_for_url("**/board**")


def test_every_page_runs_under_the_policy_signed_out_and_as_an_owner(live_app: LiveApp) -> None:
    add_owner(live_app)
    base, routes = live_app.ui.url, page_routes()
    violations: dict[str, list[str]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for width in (1440, 390):
            tab = Watched(browser, width)
            for route in routes:
                violations[f"{width} signed out {route}"] = tab.visit(base + route)
            tab.sign_in(base)
            for route in routes:
                violations[f"{width} owner {route}"] = tab.visit(base + route)
                if route in ("/board", "/login"):
                    tab.page.screenshot(path=str(ARTIFACTS / f"{live_app.mode}-csp-{route.strip('/')}-{width}.png"))

            # The listener works and the policy is enforced: an injected inline script is refused, and reported.
            injected = tab.page.evaluate("""() => { const s = document.createElement('script');
                s.textContent = 'window.__injected = true'; document.head.appendChild(s);
                return window.__injected === true; }""")
            tab.page.wait_for_timeout(200)
            assert injected is False
            assert any("script-src" in seen for seen in tab.page.evaluate("window.__cspViolations"))
        browser.close()
    assert {where: seen for where, seen in violations.items() if seen} == {}
    assert len(violations) == 4 * len(routes)


def handshake(base_url: str, origin: str) -> str:
    """Open /_event as a tab on `origin` would (its own client token); the engine.io open packet, or the refusal."""
    url = base_url.replace("http", "ws", 1) + f"/_event/?EIO=4&transport=websocket&token={uuid.uuid4()}"
    try:
        with connect(url, origin=origin, open_timeout=10) as socket:  # type: ignore[arg-type]
            return str(socket.recv(timeout=10))[:1]
    except websockets.InvalidStatus as refused:
        return f"refused {refused.response.status_code}"


def test_the_event_websocket_refuses_other_origins(live_app: LiveApp) -> None:
    base = live_app.ui.url
    port = base.rsplit(":", 1)[1]
    assert handshake(base, base) == "0"
    assert handshake(base, f"http://localhost:{port}") == "0"  # the other loopback spelling of the same app
    for origin in (f"http://localhost:{int(port) + 1}", f"http://evil.localhost:{port}", "https://evil.example",
                   f"https://127.0.0.1:{port}", "null"):
        assert handshake(base, origin).startswith("refused"), origin
