"""An agent replies from the conversation pane through the outbox to the local Cloud API simulator, and the
simulator's status webhooks turn the ticks; with the 24-hour window closed only a template can go out.

Runs the app on PKCRM_E2E_REPLY_PORT (default 3000) with PKCRM_WHATSAPP_API_BASE pointing at the simulator."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from pkcrm_app.channels.whatsapp import templates
from pkcrm_app.core.crypto import MasterKeys
from pkcrm_app.core.db import Database, utcnow
from pkcrm_app.core.migrate import upgrade_to_head
from pkcrm_app.dev.cloud_simulator.state import SimulatorState
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_live_board import LIVE, signed_in_tab
from tests.support.app_server import AppServer
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, chromium_missing
from tests.support.outbox import TOKEN, Shop, add_lead, make_shop, sim_state, simulator
from tests.support.webhooks import post_text

pytestmark = pytest.mark.e2e
PORT = int(os.environ.get("PKCRM_E2E_REPLY_PORT", "3000"))
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c63f8cf"
                    "c0f01f0005000201e2b2c7cf0000000049454e44ae426082")


@dataclass
class ReplyApp:
    app: AppServer
    shop: Shop
    state: SimulatorState


@pytest.fixture
def reply_app(tmp_path: Path) -> Iterator[ReplyApp]:
    if reason := chromium_missing():
        pytest.skip(reason)
    url = f"sqlite:///{tmp_path / 'e2e.db'}"
    upgrade_to_head(url)
    database = Database(url, MasterKeys.parse(os.environ["PKCRM_MASTER_KEY"]))
    shop = make_shop(database)
    add_lead(database, shop, "923009990001", name="Old Customer", last_inbound=utcnow() - timedelta(days=2))
    with database.session() as db:
        templates.define_template(db, shop.admin(), name="welcome_back", language="en_US",
                                  body="Hello {{1}}, we have new stock for you.")
    database.dispose()
    state = sim_state(shop)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with simulator(state, webhook=f"http://127.0.0.1:{PORT}/webhooks/whatsapp", time_scale=0.3) as sim_url:
        env = {"DATABASE_URL": url, "PKCRM_INSTANCE_DIR": str(tmp_path), "PKCRM_WHATSAPP_API_BASE": sim_url,
               "PKCRM_MASTER_KEY": os.environ["PKCRM_MASTER_KEY"]}
        app = AppServer(env, tmp_path / "reply.log", port=PORT).start()
        try:
            yield ReplyApp(app, shop, state)
        finally:
            app.stop()
            (ARTIFACTS / "reply.log").write_bytes((tmp_path / "reply.log").read_bytes())


def test_agent_replies_and_sees_ticks_then_only_templates_once_the_window_closed(reply_app: ReplyApp) -> None:
    shop, customer = reply_app.shop, f"Reply Customer {secrets.token_hex(2)}"
    assert post_text(reply_app.app.url, phone_number_id=shop.org.phone_number_id, app_secret=shop.org.app_secret,
                     wa_id="447700900777", name=customer, text="Do you have it in red?").status_code == 200
    answer = f"Yes, in red and blue {secrets.token_hex(3)}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        agent = signed_in_tab(browser, reply_app.app.url, shop.org.users["agent"][1])
        agent.locator(".lead-card", has_text=customer).click()
        expect(agent.locator("#reply-window")).to_contain_text("left to reply freely", timeout=LIVE)
        agent.fill("#reply-text", answer)
        agent.click("#reply-send")
        bubble = agent.locator("#thread .message.outbound", has_text=answer)
        expect(bubble).to_be_visible(timeout=LIVE)
        expect(bubble.locator(".ticks")).to_have_text("✓✓", timeout=LIVE)  # delivered, then read, by webhook
        assert [m["payload"]["text"]["body"] for m in reply_state_texts(reply_app.state)] == [answer]
        agent.screenshot(path=str(ARTIFACTS / "reply-sent.png"))

        agent.click("#reply-mode-buttons")
        agent.fill("#reply-box input[name=text]", "Shall we deliver tomorrow?")
        agent.fill("#reply-box input[name=buttons]", "Yes, No, Call me")
        agent.click("#reply-send-buttons")
        expect(agent.locator("#thread .message.outbound", has_text="[Call me]")).to_be_visible(timeout=LIVE)
        agent.click("#reply-mode-file")
        agent.set_input_files("#reply-file", files=[{"name": "sofa.png", "mimeType": "image/png", "buffer": PNG}])
        agent.fill("#reply-box input[name=caption]", "The red sofa")
        agent.click("#reply-send-file")
        expect(agent.locator("#thread .message.outbound", has_text="The red sofa")).to_be_visible(timeout=LIVE)
        expect(agent.locator("#thread .message.outbound", has_text="The red sofa").locator(".ticks")
               ).to_have_text("✓✓", timeout=LIVE)
        sent = {m["type"]: m["payload"] for m in reply_app.state.messages}
        assert sent["interactive"]["interactive"]["action"]["buttons"][2]["reply"]["title"] == "Call me"
        assert reply_app.state.media[sent["image"]["image"]["id"]][0] == PNG

        agent.get_by_role("button", name="Close conversation").click()
        agent.locator(".lead-card", has_text="Old Customer").click()
        expect(agent.locator("#reply-window")).to_contain_text("window is closed", timeout=LIVE)
        expect(agent.locator("#reply-text")).to_have_count(0)
        agent.select_option("#reply-template", label="welcome_back (en_US)")
        agent.click("#reply-send-template")
        expect(agent.locator("#thread .message.outbound", has_text="Hello Old Customer, we have new stock for you.")
               ).to_be_visible(timeout=LIVE)
        agent.screenshot(path=str(ARTIFACTS / "reply-template.png"))

        admin = signed_in_tab(browser, reply_app.app.url, shop.org.users["ada"][1])
        admin.goto(reply_app.app.url + "/settings/whatsapp")
        expect(admin.get_by_text("Stored: …0001")).to_be_visible(timeout=LIVE)
        assert TOKEN not in admin.content()
        admin.get_by_role("button", name="Test connection").click()
        expect(admin.locator("#whatsapp-notice")).to_contain_text("Connected: +1 555 000 0000", timeout=LIVE)
        admin.screenshot(path=str(ARTIFACTS / "reply-settings.png"))
        browser.close()


def reply_state_texts(state: SimulatorState) -> list[dict]:  # type: ignore[type-arg]
    return [m for m in state.messages if m["type"] == "text"]


def test_an_undeliverable_reply_says_why_and_can_be_sent_again(reply_app: ReplyApp) -> None:
    shop, customer = reply_app.shop, f"Unreachable Customer {secrets.token_hex(2)}"
    # The simulator answers 131026 (message undeliverable) for recipients ending in 00026, every time.
    assert post_text(reply_app.app.url, phone_number_id=shop.org.phone_number_id, app_secret=shop.org.app_secret,
                     wa_id="447700900026", name=customer, text="Hello?").status_code == 200
    answer = f"We can deliver on Friday {secrets.token_hex(3)}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        agent = signed_in_tab(browser, reply_app.app.url, shop.org.users["agent"][1])
        agent.locator(".lead-card", has_text=customer).click()
        agent.fill("#reply-text", answer)
        agent.click("#reply-send")
        bubble = agent.locator("#thread .message.outbound", has_text=answer)
        resend = bubble.locator(".message-resend")
        expect(resend).to_be_visible(timeout=LIVE)  # failed for good: the reason and a way to try again
        assert "deliver" in bubble.inner_text().lower()
        agent.screenshot(path=str(ARTIFACTS / "reply-failed.png"))
        assert reply_app.state.refused["447700900026"] == 1
        resend.click()
        deadline = time.monotonic() + LIVE / 1000
        while reply_app.state.refused["447700900026"] < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert reply_app.state.refused["447700900026"] == 2  # one more real attempt, not a blind repeat loop
        expect(resend).to_be_visible(timeout=LIVE)  # the number is still unreachable: failed again
        browser.close()
