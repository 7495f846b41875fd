"""Two users of one organisation and one of another, in separate browsers, while WhatsApp messages arrive."""

from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.conftest import ARTIFACTS, LiveApp
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.data import PASSWORD
from tests.support.webhooks import post_text

pytestmark = pytest.mark.e2e
LIVE = 10_000  # ms a pushed change may take to show (it takes tens of ms; CI machines can be slow)


def signed_in_tab(browser: Browser, base_url: str, email: str) -> Page:
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    page.goto(base_url + "/board")
    page.wait_for_url("**/login**")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/board**")
    expect(page.locator(".board-column")).to_have_count(5, timeout=LIVE)
    return page


def column(page: Page, stage: str):  # type: ignore[no-untyped-def]
    return page.locator(f'.board-column[data-stage="{stage}"]')


def test_messages_and_moves_reach_every_tab_of_the_organisation_only(live_app: LiveApp) -> None:
    mode, acme, globex = live_app.mode, live_app.acme, live_app.globex
    marker = f"Is the blue sofa in stock? {secrets.token_hex(4)}"
    customer = f"Live Customer {secrets.token_hex(2)}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        alice = signed_in_tab(browser, live_app.ui.url, acme.users["alice"][1])
        mark = signed_in_tab(browser, live_app.ui.url, acme.users["mark"][1])
        bob = signed_in_tab(browser, live_app.ui.url, globex.users["bob"][1])
        expect(alice.locator("#org-name")).to_have_text("Acme")
        expect(bob.locator("#org-name")).to_have_text("Globex")

        response = post_text(live_app.webhook_target.url, phone_number_id=acme.phone_number_id,
                             app_secret=acme.app_secret, wa_id="447700900123", name=customer, text=marker)
        assert response.status_code == 200 and response.json()["stored"] == 1

        for tab in (alice, mark):
            card = column(tab, "New").locator(".lead-card", has_text=customer)
            expect(card).to_be_visible(timeout=LIVE)
            expect(card).to_contain_text(marker)
            expect(column(tab, "New").locator(".column-count")).to_have_text("1")
        alice.screenshot(path=str(ARTIFACTS / f"{mode}-alice-new-card.png"))
        mark.screenshot(path=str(ARTIFACTS / f"{mode}-mark-new-card.png"))

        # Alice opens the conversation; the customer writes again and the pane updates live.
        column(alice, "New").locator(".lead-card", has_text=customer).click()
        expect(alice.locator("#thread .message-text", has_text=marker)).to_be_visible(timeout=LIVE)
        follow_up = f"Also, do you deliver on Saturdays? {secrets.token_hex(3)}"
        post_text(live_app.webhook_target.url, phone_number_id=acme.phone_number_id, app_secret=acme.app_secret,
                  wa_id="447700900123", name=customer, text=follow_up)
        expect(alice.locator("#thread .message-text", has_text=follow_up)).to_be_visible(timeout=LIVE)
        # Alice has it open: no badge for her; Mark sees one unread until Alice closes the conversation.
        alice_card = column(alice, "New").locator(".lead-card", has_text=customer)
        mark_card = column(mark, "New").locator(".lead-card", has_text=customer)
        expect(alice_card.locator(".unread-badge")).to_have_count(0)
        expect(mark_card.locator(".unread-badge")).to_have_text("1", timeout=LIVE)
        alice.get_by_role("button", name="Close conversation").click()
        expect(mark_card.locator(".unread-badge")).to_have_count(0, timeout=LIVE)
        expect(alice_card.locator(".unread-badge")).to_have_count(0)
        alice_card.click()
        expect(alice.locator("#thread .message-text", has_text=follow_up)).to_be_visible(timeout=LIVE)
        expect(column(mark, "New").locator(".lead-card", has_text=customer)).to_contain_text(follow_up, timeout=LIVE)
        expect(column(mark, "New").locator(".lead-card")).to_have_count(1)  # same contact: no second lead
        alice.screenshot(path=str(ARTIFACTS / f"{mode}-alice-conversation.png"))

        # Mark moves the lead; Alice's board follows without a reload.
        mark_card.get_by_label("Move to stage").select_option(label="Qualified")
        expect(column(alice, "Qualified").locator(".lead-card", has_text=customer)).to_be_visible(timeout=LIVE)
        expect(column(alice, "New").locator(".lead-card", has_text=customer)).to_have_count(0)
        expect(alice.locator("#thread")).to_contain_text("Qualified", timeout=LIVE)
        alice.screenshot(path=str(ARTIFACTS / f"{mode}-alice-after-move.png"))

        # The other organisation saw none of it.
        bob.wait_for_timeout(500)
        assert customer not in bob.content() and marker not in bob.content()
        expect(column(bob, "New").locator(".lead-card")).to_have_count(0)
        bob.screenshot(path=str(ARTIFACTS / f"{mode}-bob-other-org.png"))

        # Logging out ends the session: Alice's other open tab is signed out live, the board is unreachable.
        alice_second = alice.context.new_page()
        alice_second.goto(live_app.ui.url + "/board")
        expect(alice_second.locator(".board-column")).to_have_count(5, timeout=LIVE)
        expect(alice_second.locator("#session-ended")).to_have_count(0)
        alice.click("#logout")
        alice.wait_for_url("**/login**")
        # Signed out live: the notice covers the page, or the tab's next event already sent it to sign in.
        expect(alice_second.locator("#session-ended").or_(alice_second.locator("#sign-in"))).to_be_visible(
            timeout=LIVE)
        expect(alice_second.locator(".lead-card", has_text=customer)).to_have_count(0)
        alice_second.screenshot(path=str(ARTIFACTS / f"{mode}-alice-signed-out-live.png"))
        alice.goto(live_app.ui.url + "/board")
        alice.wait_for_url("**/login**")
        browser.close()
