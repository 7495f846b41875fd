"""The sender process killed with SIGKILL mid-batch, then restarted: every message reaches the (simulated)
Cloud API exactly once, and each message holds the wamid WhatsApp gave it.

Two crash points: (1) right after WhatsApp accepted a message, before the sender recorded it (the worst
case: only the status webhook, which echoes our key, can tell); (2) a SIGKILL from outside at an arbitrary
moment of a batch (rows claimed but not started, and possibly one in the middle of its request)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sqlalchemy import select

from pkcrm_app.dev.cloud_simulator.app import serving
from pkcrm_app.http import build_api
from pkcrm_app.http.webhook import number_directory
from pkcrm_app.inbox.models import Message, MessageStatus
from pkcrm_app.inbox.outbox import service as outbox
from pkcrm_app.inbox.outbox.models import OutboxItem, OutboxState
from pkcrm_app.inbox.outbox.sender import CRASH_AFTER_SEND
from tests.support.outbox import add_lead, make_shop, sim_state, simulator

MESSAGES = 150


def sender_command(*extra: str) -> list[str]:
    return [sys.executable, "-m", "pkcrm_app.cli", "send-outbox", *extra]


def test_sigkill_mid_batch_then_restart_sends_every_message_exactly_once(database, tmp_path) -> None:
    shop = make_shop(database)
    leads = [add_lead(database, shop, f"92{i:03d}7654321") for i in range(MESSAGES)]
    with database.session() as db:
        for index, lead in enumerate(leads):
            outbox.send_text(db, shop.agent(), lead, f"Order {index} confirmed")
    number_directory.cache_clear()
    state = sim_state(shop)
    with serving(build_api()) as app_url, simulator(state, webhook=app_url + "/webhooks/whatsapp") as sim_url:
        env = {**os.environ, "DATABASE_URL": database.url, "PKCRM_INSTANCE_DIR": str(tmp_path),
               "PKCRM_WHATSAPP_API_BASE": sim_url, "PKCRM_OUTBOX_LEASE_SECONDS": "4",
               "PKCRM_OUTBOX_RECONCILE_SECONDS": "4", "PKCRM_OUTBOX_IN_APP": "0"}
        crashed = subprocess.run(sender_command(), env={**env, CRASH_AFTER_SEND: "40"}, timeout=120,
                                 capture_output=True)
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr.decode()[-2000:]
        assert len(state.messages) == 40
        with database.session() as db:
            fortieth = db.scalar(select(OutboxItem).where(OutboxItem.idempotency_key == state.messages[-1]["key"]))
            assert fortieth is not None and fortieth.call_started_at is not None  # the attempt was on record

        running = subprocess.Popen(sender_command(), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while len(state.messages) < 95 and running.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        running.send_signal(signal.SIGKILL)
        running.wait(timeout=10)
        assert running.returncode == -signal.SIGKILL and len(state.messages) < MESSAGES

        restarted = subprocess.run(sender_command("--once"), env=env, timeout=180, capture_output=True)
        assert restarted.returncode == 0, restarted.stderr.decode()[-2000:]

    wamid_of = {m["key"]: m["wamid"] for m in state.messages}
    with database.session() as db:
        rows = list(db.execute(select(OutboxItem, Message).join(Message, Message.id == OutboxItem.message_id)))
    keys = sorted(item.idempotency_key for item, _ in rows)
    assert len(keys) == MESSAGES
    assert state.sent_keys() == dict.fromkeys(keys, 1)  # every message exactly once
    for item, message in rows:
        assert item.state == OutboxState.SENT and message.status != MessageStatus.FAILED
        assert message.wa_message_id == item.wa_message_id == wamid_of[item.idempotency_key]
