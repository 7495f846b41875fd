"""Webhook ingest of MIXED message types (text, image, location, reaction, interactive, contacts, button, order,
document, reply): signed webhooks posted to the Starlette routes served by uvicorn in this process, on SQLite and
PostgreSQL; prints messages/s, request latency and the stored count.

The numbers have no access token, so each media message's download (after the answer) fails at once without
network: this measures ingest, not media transfer.

    .venv/bin/python benchmarks/ingest_mixed.py [--messages 3000] [--per-webhook 10] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import uvicorn
from sqlalchemy import func, select

from pkcrm_app.channels.whatsapp.webhook import sign
from pkcrm_app.core.db import Database, set_database
from pkcrm_app.core.migrate import upgrade_to_head
from pkcrm_app.http import build_api
from pkcrm_app.http.webhook import number_directory
from pkcrm_app.inbox.models import Message
from tests.conftest import create_pg_database, drop_pg_database, postgres_reachable
from tests.support.data import make_org
from tests.support.fake_media_api import free_port


def mixed(i: int, sender: str, prefix: str) -> dict[str, Any]:
    """The i-th message of a customer mix: mostly text, then the other kinds."""
    base = {"from": sender, "id": f"{prefix}.{i}", "timestamp": str(1_700_000_000 + i)}
    kind = i % 10
    if kind in (0, 1, 2):
        return base | {"type": "text", "text": {"body": f"Is item {i} in stock?"}}
    if kind == 3:
        return base | {"type": "image", "image": {"id": f"M{i}", "mime_type": "image/jpeg", "sha256": "x",
                                                  "caption": "this one"}}
    if kind == 4:
        return base | {"type": "location", "location": {"latitude": 31.52, "longitude": 74.35, "name": "Shop"}}
    if kind == 5:
        return base | {"type": "reaction", "reaction": {"message_id": f"{prefix}.{i - 5}", "emoji": "👍"}}
    if kind == 6:
        return base | {"type": "interactive", "interactive": {"type": "button_reply",
                                                              "button_reply": {"id": "yes", "title": "Yes"}}}
    if kind == 7:
        return base | {"type": "contacts", "contacts": [{"name": {"formatted_name": "Ali Raza"},
                                                         "phones": [{"phone": "+92 300 1234567"}]}]}
    if kind == 8:
        return base | {"type": "order", "order": {"catalog_id": "c", "product_items": [
            {"product_retailer_id": "KURTA", "quantity": 2, "item_price": 2500, "currency": "PKR"}]}}
    return base | {"type": "text", "text": {"body": "and this?"}, "context": {"id": f"{prefix}.{i - 1}"}}


def bodies(phone_number_id: str, secret: str, prefix: str, count: int, per_webhook: int) -> list[tuple[bytes, dict]]:
    out = []
    for start in range(0, count, per_webhook):
        ids = range(start, min(count, start + per_webhook))
        messages = [mixed(i, f"92300{(i // 7) % 400:07d}", prefix) for i in ids]
        value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": phone_number_id},
                 "contacts": [{"profile": {"name": "Customer"}, "wa_id": m["from"]} for m in messages],
                 "messages": messages}
        payload = {"object": "whatsapp_business_account",
                   "entry": [{"id": "W", "changes": [{"field": "messages", "value": value}]}]}
        raw = json.dumps(payload).encode()
        out.append((raw, {"content-type": "application/json", "x-hub-signature-256": sign(raw, secret)}))
    return out


async def post_all(url: str, work: list[tuple[bytes, dict]], concurrency: int) -> tuple[float, list[float], Counter]:
    latencies: list[float] = []
    statuses: Counter = Counter()
    queue = iter(work)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        async def worker() -> None:
            for body, headers in queue:
                started = time.perf_counter()
                response = await client.post("/webhooks/whatsapp", content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                statuses[response.status_code] += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies, statuses


def run(label: str, url: str, args: argparse.Namespace) -> None:
    upgrade_to_head(url)
    database = Database(url)
    database.keyring.ensure_active_key()
    set_database(database)
    number_directory.cache_clear()
    org = make_org(database, "bench", "7001", {})
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_api(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        asyncio.run(post_all(f"http://127.0.0.1:{port}", bodies("7001", org.app_secret, "warm", 50, 10), 4))
        work = bodies("7001", org.app_secret, "wamid.mixed", args.messages, args.per_webhook)
        elapsed, latencies, statuses = asyncio.run(post_all(f"http://127.0.0.1:{port}", work, args.concurrency))
        with database.session() as db:
            stored = db.scalar(select(func.count()).where(Message.wa_message_id.like("wamid.mixed.%")))
            kinds = dict(db.execute(select(Message.type, func.count()).where(Message.wa_message_id.like(
                "wamid.mixed.%")).group_by(Message.type)).all())
        latencies.sort()
        p50 = latencies[len(latencies) // 2] * 1000
        print(f"{label:<11} {args.messages} mixed messages, {args.per_webhook}/webhook, {args.concurrency} in flight: "
              f"{elapsed:.2f} s -> {args.messages / elapsed:,.0f} msg/s; p50 {p50:.1f} ms,"
              f" p95 {latencies[int(len(latencies) * 0.95)] * 1000:.1f} ms; HTTP {dict(statuses)}; stored {stored}",
              flush=True)
        print(f"{'':<11} stored by type: {kinds}", flush=True)
    finally:
        server.should_exit = True
        thread.join(10)
        set_database(None)
        database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--per-webhook", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pkcrm-mixed-") as tmp:
        run("SQLite", f"sqlite:///{tmp}/bench.db", args)
    if reason := postgres_reachable():
        print(f"PostgreSQL skipped: {reason}")
        return
    url = create_pg_database()
    try:
        run("PostgreSQL", url, args)
    finally:
        drop_pg_database(url)


if __name__ == "__main__":
    main()
