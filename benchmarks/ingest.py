"""Webhook ingest throughput through the real running app (`reflex run --env prod`, full app on :3000).

Posts N signed Cloud API webhooks (text messages from a mix of new and returning customers, unique wamids)
with an async httpx client keeping a bounded number of requests in flight, then counts the stored rows.
Variants: one message per webhook and 10 messages per webhook (Meta batches deliveries), on
SQLite (embedded, 1 worker), PostgreSQL (1 worker) and PostgreSQL + Redis with GRANIAN_WORKERS=2 (at-scale).

Prints total time, messages/s, p50/p95 request latency and the stored count for each.
Target: >= 1,000 messages/s on 2 cores.

    .venv/bin/python benchmarks/ingest.py [--messages 2000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlalchemy import func, select

from pkcrm_app.core.authz import Role
from pkcrm_app.core.db import Database
from pkcrm_app.core.migrate import upgrade_to_head
from pkcrm_app.dev.customer_simulator import Customer, conversation_stream, signed_body, text_envelope
from pkcrm_app.inbox.models import Message
from tests.conftest import (  # sets PKCRM_MASTER_KEY when unset, as the tests do
    REDIS_TEST_URL,
    create_pg_database,
    drop_pg_database,
    postgres_reachable,
    redis_reachable,
)
from tests.support.app_server import AppServer, port_is_free
from tests.support.data import OrgFixture, make_org

TARGET = 1000.0
WEBHOOK = "/webhooks/whatsapp"
WARMUP = 40
SERVER_ERROR = re.compile(r"^\w+: \(([\w.]+)\)", re.MULTILINE)  # e.g. "OperationalError: (psycopg...)"


def build_bodies(org: OrgFixture, prefix: str, count: int, per_webhook: int, seed: int) -> list[tuple[bytes, dict]]:
    """Signed webhook bodies carrying `count` text messages, `per_webhook` to a webhook."""
    rng = random.Random(seed)
    customers: list[Customer] = []
    stream = conversation_stream(customers, rng)
    bodies = []
    for start in range(0, count, per_webhook):
        items = [next(stream) for _ in range(min(per_webhook, count - start))]
        envelope = text_envelope(phone_number_id=org.phone_number_id, customer=items[0][0], text=items[0][1],
                                 wamid=f"{prefix}.{start}")
        value = envelope["entry"][0]["changes"][0]["value"]
        template = value["messages"][0]
        value["messages"] = [{**template, "from": c.wa_id, "id": f"{prefix}.{start + i}", "text": {"body": t}}
                             for i, (c, t) in enumerate(items)]
        senders = {c.wa_id: c.name for c, _ in items}
        value["contacts"] = [{"profile": {"name": name}, "wa_id": wa_id} for wa_id, name in senders.items()]
        bodies.append(signed_body(envelope, org.app_secret))
    return bodies


async def post_all(base_url: str, bodies: list[tuple[bytes, dict]], concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    failures: list[str] = []
    stored = 0
    queue = iter(bodies)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:

        async def worker() -> None:
            nonlocal stored
            for body, headers in queue:
                started = time.perf_counter()
                try:
                    response = await client.post(WEBHOOK, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                latencies.append(time.perf_counter() - started)
                if response.status_code == 200:
                    stored += response.json()["stored"]
                else:
                    failures.append(f"{response.status_code} {response.text[:120]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "latencies": latencies, "failures": failures, "acked_stored": stored}


async def empty_route_rate(base_url: str, requests: int, concurrency: int) -> float:
    """Requests/s of the bare /healthz route: the ceiling the HTTP stack alone sets on this machine."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:
        remaining = iter(range(requests))

        async def worker() -> None:
            for _ in remaining:
                (await client.get("/healthz")).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return requests / (time.perf_counter() - started)


def count_stored(database: Database, org_id: int, prefix: str) -> int:
    with database.session() as db:
        return db.scalar(select(func.count(Message.id)).where(
            Message.org_id == org_id, Message.wa_message_id.like(f"{prefix}.%"))) or 0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] if ordered else float("nan")  # nearest rank


def run_mode(label: str, url: str, extra_env: dict[str, str], args: argparse.Namespace, tmp: Path) -> None:
    upgrade_to_head(url)
    database = Database(url)
    database.keyring.ensure_active_key()
    org = make_org(database, "bench", "7001", {"agent": Role.AGENT})
    env = {"DATABASE_URL": url, "PKCRM_INSTANCE_DIR": str(tmp)} | extra_env
    log = tmp / ("-".join(label.replace(",", "").replace("+", "").lower().split()) + ".log")
    server = AppServer(env, log).start()
    try:
        asyncio.run(post_all(server.url, build_bodies(org, f"warm.{label}", WARMUP, 1, 0), 4))
        ceiling = asyncio.run(empty_route_rate(server.url, 2000, args.concurrency))
        print(f"{label:<34} HTTP ceiling: the empty /healthz route answers {ceiling:.0f} req/s with the same client")
        for per_webhook in (1, 10, 50):
            log_start = log.stat().st_size
            prefix = f"wamid.bench.{per_webhook}.{len(extra_env)}"
            bodies = build_bodies(org, prefix, args.messages, per_webhook, seed=per_webhook)
            result = asyncio.run(post_all(server.url, bodies, args.concurrency))
            counted = count_stored(database, org.org_id, prefix)
            rate = args.messages / result["elapsed"]
            lat = [x * 1000 for x in result["latencies"]]
            verdict = "MEETS" if rate >= TARGET and counted == args.messages else "MISSES"
            print(f"{label:<34} {per_webhook:>2} msg/webhook: {len(bodies)} requests in {result['elapsed']:.2f} s"
                  f" -> {rate:,.0f} msg/s  (p50 {pct(lat, 50):.1f} ms, p95 {pct(lat, 95):.1f} ms,"
                  f" mean {statistics.fmean(lat) if lat else float('nan'):.1f} ms)", flush=True)
            print(f"{'':<34}    stored in DB: {counted} of {args.messages} (app acked {result['acked_stored']});"
                  f" failures: {len(result['failures'])}; target {TARGET:,.0f} msg/s: {verdict};"
                  f" load avg {os.getloadavg()[0]:.1f}", flush=True)
            if result["failures"]:
                with log.open("rb") as handle:
                    handle.seek(log_start)
                    causes = Counter(SERVER_ERROR.findall(handle.read().decode(errors="replace")))
                print(f"{'':<34}    e.g. {result['failures'][0]}; server log: "
                      + (", ".join(f"{n} x {cause}" for cause, n in causes.most_common(4)) or "no error lines"))
    finally:
        server.stop()
        database.dispose()
        if args.keep_logs:
            shutil.copy(log, Path(args.keep_logs) / log.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--only", choices=["sqlite", "pg", "pg-redis"], action="append")
    parser.add_argument("--keep-logs", metavar="DIR", help="copy the app logs here")
    args = parser.parse_args()
    only = set(args.only or ["sqlite", "pg", "pg-redis"])
    for port in (3000,):
        if not port_is_free(port):
            sys.exit(f"port {port} is taken; stop what listens there first")
    print(f"ingest benchmark: {args.messages} messages per variant (1 in 5 from a new customer), "
          f"{args.concurrency} requests in flight, "
          f"full app (reflex run --env prod) on :3000, client on the same {os.cpu_count()} cores; "
          f"target >= {TARGET:,.0f} msg/s", flush=True)
    pg_reason = postgres_reachable()
    redis_reason = redis_reachable()
    if "sqlite" in only:
        with tempfile.TemporaryDirectory(prefix="pkcrm-bench-") as tmp:
            run_mode("SQLite, 1 worker", f"sqlite:///{tmp}/bench.db", {}, args, Path(tmp))
    if "pg" in only:
        if pg_reason:
            print(f"PostgreSQL skipped: {pg_reason}")
        else:
            url = create_pg_database()
            try:
                with tempfile.TemporaryDirectory(prefix="pkcrm-bench-") as tmp:
                    run_mode("PostgreSQL, 1 worker", url, {}, args, Path(tmp))
            finally:
                drop_pg_database(url)
    if "pg-redis" in only:
        if pg_reason or redis_reason:
            print(f"PostgreSQL + Redis, 2 workers skipped: {pg_reason or redis_reason}")
        else:
            import redis

            redis.Redis.from_url(REDIS_TEST_URL).flushdb()
            url = create_pg_database()
            try:
                with tempfile.TemporaryDirectory(prefix="pkcrm-bench-") as tmp:
                    env = {"REDIS_URL": REDIS_TEST_URL, "GRANIAN_WORKERS": "2"}
                    run_mode("PostgreSQL + Redis, 2 workers", url, env, args, Path(tmp))
            finally:
                drop_pg_database(url)
                redis.Redis.from_url(REDIS_TEST_URL).flushdb()


if __name__ == "__main__":
    main()
