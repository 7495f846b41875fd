"""Two-factor authentication as an owner meets it in Chromium: enrolment the policy forces at login, the code
step of the next login, and the step-up dialog before an export."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import select, update

from pkcrm_app.accounts.identity import mfa
from pkcrm_app.accounts.identity.models import AuthSession, Membership, MfaFactor, Organisation
from pkcrm_app.accounts.organisations import settings as organisation_settings
from pkcrm_app.core.authz import Role
from pkcrm_app.core.crypto import MasterKeys
from pkcrm_app.core.db import Database, utcnow
from pkcrm_app.core.migrate import upgrade_to_head
from tests.e2e.conftest import ARTIFACTS
from tests.support.app_server import AppServer
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, chromium_missing
from tests.support.data import PASSWORD, OrgFixture, make_org

pytestmark = pytest.mark.e2e
WAIT = 15_000


@dataclass
class MfaApp:
    url: str
    database: Database
    acme: OrgFixture


@pytest.fixture
def mfa_app(tmp_path: Path) -> Iterator[MfaApp]:
    """The app on the embedded default, with Acme requiring two-factor authentication of its admins."""
    if reason := chromium_missing():
        pytest.skip(reason)
    url = f"sqlite:///{tmp_path / 'mfa.db'}"
    upgrade_to_head(url)
    database = Database(url, MasterKeys.parse(os.environ["PKCRM_MASTER_KEY"]))
    acme = make_org(database, "acme", "1001", {"olga": Role.OWNER, "ann": Role.AGENT})
    owner = acme.actor("olga", Role.OWNER)
    with database.session() as db:
        current = organisation_settings.read_settings(db, owner)
        organisation_settings.update_settings(db, owner, replace(current, mfa_policy="admins"))
        db.commit()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server = AppServer({"DATABASE_URL": url, "PKCRM_INSTANCE_DIR": str(tmp_path),
                        "PKCRM_MASTER_KEY": os.environ["PKCRM_MASTER_KEY"]}, tmp_path / "mfa-app.log").start()
    try:
        yield MfaApp(server.url, database, acme)
    finally:
        server.stop()
        (ARTIFACTS / "mfa-app.log").write_bytes((tmp_path / "mfa-app.log").read_bytes())
        database.dispose()


def password_step(page: Page, base_url: str, email: str) -> None:
    page.goto(base_url + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("#sign-in")


def stored_secret(database: Database, user_id: int) -> str:
    with database.session() as db:
        return db.scalars(select(MfaFactor.secret).where(MfaFactor.user_id == user_id)).one()


def test_enrolment_code_step_and_step_up(mfa_app: MfaApp) -> None:
    olga_id, olga_email = mfa_app.acme.users["olga"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True).new_page()

        # The policy covers owners: the password leads to enrolment, and nothing else opens meanwhile.
        password_step(page, mfa_app.url, olga_email)
        page.wait_for_url(re.compile(r"/mfa/setup/?$"), timeout=WAIT)
        expect(page.locator("#mfa-qr")).to_be_visible(timeout=WAIT)
        page.wait_for_function("document.getElementById('mfa-qr').naturalWidth > 0", timeout=WAIT)
        page.screenshot(path=str(ARTIFACTS / "mfa-enrolment.png"))
        page.goto(mfa_app.url + "/board")
        page.wait_for_url(re.compile(r"/login/?(\?.*)?$"), timeout=WAIT)
        page.goto(mfa_app.url + "/mfa/setup")
        expect(page.locator("#mfa-qr")).to_be_visible(timeout=WAIT)
        page.wait_for_function("document.getElementById('mfa-qr').naturalWidth > 0", timeout=WAIT)

        secret = stored_secret(mfa_app.database, olga_id)
        page.fill("#enrol-code", "000000" if mfa.code_at(secret) != "000000" else "111111")
        page.click("#enrol-confirm")
        expect(page.locator("#enrol-error")).to_contain_text("not correct", timeout=WAIT)
        page.fill("#enrol-code", mfa.code_at(secret))
        page.click("#enrol-confirm")
        expect(page.locator("#recovery-panel")).to_be_visible(timeout=WAIT)
        codes = page.locator("#recovery-codes").inner_text().split()
        assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", c) for c in codes)
        page.screenshot(path=str(ARTIFACTS / "mfa-recovery-codes.png"))
        page.click("#enrol-continue")
        page.wait_for_url(re.compile(r"/board/?$"), timeout=WAIT)
        expect(page.locator("#org-name")).to_have_text("Acme", timeout=WAIT)
        page.click("#logout")
        page.wait_for_url(re.compile(r"/login/?(\?.*)?$"), timeout=WAIT)

        # Next login: the password alone stops at the code step; a wrong code is refused, a right one opens.
        password_step(page, mfa_app.url, olga_email)
        page.wait_for_url(re.compile(r"/login/verify/?(\?.*)?$"), timeout=WAIT)
        page.fill("#login-code", "999999" if mfa.code_at(secret) != "999999" else "888888")
        page.click("#verify-code")
        expect(page.locator("#verify-error")).to_be_visible(timeout=WAIT)
        page.screenshot(path=str(ARTIFACTS / "mfa-code-step.png"))
        page.fill("#login-code", codes[0])  # a recovery code (the app's current code was used to enrol)
        page.click("#verify-code")
        page.wait_for_url(re.compile(r"/board/?$"), timeout=WAIT)

        # An export is a sensitive action: once the login's code is old, it asks for a fresh one first.
        with mfa_app.database.session() as db:
            db.execute(update(AuthSession).where(AuthSession.user_id == olga_id)
                       .values(mfa_verified_at=utcnow() - timedelta(minutes=10)))
            db.commit()
        page.goto(mfa_app.url + "/audit")
        expect(page.locator(".audit-row").first).to_be_visible(timeout=WAIT)
        page.click("#audit-export")
        expect(page.locator("#step-up-code")).to_be_visible(timeout=WAIT)
        page.fill("#step-up-code", codes[0])  # already used: refused
        page.click("#step-up-confirm")
        expect(page.locator("#step-up-error")).to_be_visible(timeout=WAIT)
        page.screenshot(path=str(ARTIFACTS / "mfa-step-up.png"))
        with page.expect_download(timeout=WAIT) as download:
            page.fill("#step-up-code", codes[1])
            page.click("#step-up-confirm")
        csv_text = Path(download.value.path()).read_text()
        assert csv_text.startswith("id,time_utc") and "mfa.step_up" in csv_text

        # A role change asks again once the window has passed, then runs by itself after the code.
        with mfa_app.database.session() as db:
            db.execute(update(AuthSession).where(AuthSession.user_id == olga_id)
                       .values(mfa_verified_at=utcnow() - timedelta(minutes=10)))
            db.commit()
        page.goto(mfa_app.url + "/members")
        ann_row = page.locator(".member-row", has_text="ann@acme.test")
        expect(ann_row).to_be_visible(timeout=WAIT)
        ann_row.locator(".role-picker").select_option("manager")
        expect(page.locator("#step-up-code")).to_be_visible(timeout=WAIT)
        page.fill("#step-up-code", codes[2])
        page.click("#step-up-confirm")
        expect(page.locator("#members-notice")).to_contain_text("Role changed to manager", timeout=WAIT)
        expect(ann_row.locator(".role-picker")).to_have_value("manager")
        with mfa_app.database.session() as db:
            assert db.scalars(select(Membership.role).where(Membership.user_id == mfa_app.acme.users["ann"][0])
                              ).one() == Role.MANAGER

        page.goto(mfa_app.url + "/account")
        expect(page.locator("#mfa-status")).to_have_text("on", timeout=WAIT)
        page.screenshot(path=str(ARTIFACTS / "mfa-account.png"))
        page.goto(mfa_app.url + "/settings")
        expect(page.locator("#settings-mfa-policy")).to_have_value("admins", timeout=WAIT)
        page.screenshot(path=str(ARTIFACTS / "settings.png"), full_page=True)

        # The owner deletes the organisation (the step-up of the role change is still fresh).
        page.fill("#delete-confirm-name", "Acme")
        page.click("#delete-organisation")
        page.wait_for_url(re.compile(r"/login/?\?error=deleted$"), timeout=WAIT)
        expect(page.locator("#login-error")).to_have_text("The organisation was deleted.", timeout=WAIT)
        with mfa_app.database.session() as db:
            assert db.scalars(select(Organisation.name).where(Organisation.id == mfa_app.acme.org_id)).one() == (
                "Deleted organisation")
        browser.close()
