"""Live push at team size: many open board tabs, one webhook at a time, against the real app.

Runs `reflex run --env prod` on the demo organisation (--contacts leads) and opens N tabs as headless websocket
clients speaking Reflex's protocol (tests/support/reflex_ws.py: answers Engine.IO pings, state names from the
app's own classes), each one the manager's board. Per tab count:
  - 20 single-message webhooks 500 ms apart (alternately a new and a returning customer): per tab, the time from
    the POST to the first update carrying the message (p50/p99 over every tab and webhook), how many updates and
    bytes each tab got, and the server's CPU per webhook (user + system of the app's processes, from /proc);
  - an opening storm: N more tabs open at once, as a browser opens a page (socket, hydrate and the page's
    on_load): the server's CPU until it is quiet again, and when the last tab showed its board;
  - a click: one tab's own event (show more cards) when all is quiet and right after a webhook: the time to its
    own answer, and the updates the other tabs got from it (none is right).
The load generator's own CPU is printed beside the server's, so it is never the hidden bottleneck.
Modes: embedded (SQLite, one worker) and redis (Redis, GRANIAN_WORKERS=2, PostgreSQL when reachable).

    .venv/bin/python benchmarks/live_fanout.py [--tabs 1,10,50,100] [--webhooks 20] [--mode embedded|redis]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import websockets
from sqlalchemy import select

from pkcrm_app.channels.whatsapp.models import WhatsAppNumber
from pkcrm_app.core.db import Database
from pkcrm_app.core.migrate import upgrade_to_head
from pkcrm_app.dev import demo
from pkcrm_app.dev.customer_simulator import Customer, signed_body, text_envelope
from pkcrm_app.ui.pages.board.state import BoardState
from tests.conftest import REDIS_TEST_URL, create_pg_database, drop_pg_database, postgres_reachable
from tests.support.app_server import AppServer
from tests.support.reflex_ws import NAMESPACE, ReflexSocket, event_name

SECRET = "fanout-bench-secret"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Tab:
    """A tab that notes when each update arrived and how big it was."""

    sock: ReflexSocket
    arrivals: list[tuple[float, int, str]] = field(default_factory=list)  # (time, bytes, text)


async def open_tab(url: str, cookie: str) -> Tab:
    sock = await ReflexSocket.open(url, cookie=cookie, origin=url)
    tab = Tab(sock)
    reader = sock._reader
    assert reader is not None
    reader.cancel()  # read with arrival times instead
    tab.sock._reader = asyncio.get_running_loop().create_task(_read(tab))
    return tab


async def _read(tab: Tab) -> None:
    sock = tab.sock
    prefix = f"42{NAMESPACE},"
    try:
        async for frame in sock.connection:
            text = str(frame)
            if text == "2":
                await sock.connection.send("3")
            elif text.startswith(prefix):
                tab.arrivals.append((time.monotonic(), len(text), text))
                name, *args = json.loads(text[len(prefix):])
                if name == "event" and args:
                    sock.received.append(args[0])
                sock._arrived.set()
    except websockets.ConnectionClosed:
        pass
    finally:
        sock.closed = True
        sock._arrived.set()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] if ordered else float("nan")


def server_cpu(server: AppServer) -> float:
    """User + system seconds of every process of the app (the server's process group)."""
    assert server.process is not None
    group, total = server.process.pid, 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:  # pgrp
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


async def quiet(servers: list[AppServer], *, limit: float = 600.0) -> tuple[float, bool]:
    """Wait until the servers use under 5 % of a core for a second; (CPU seconds used meanwhile, went quiet)."""
    start = last = sum(server_cpu(s) for s in servers)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        now = sum(server_cpu(s) for s in servers)
        if now - last < 0.05:
            return now - start, True
        last = now
    return last - start, False


def webhook(marker: str, customer: Customer) -> tuple[bytes, dict[str, str]]:
    return signed_body(text_envelope(phone_number_id=demo.DEMO_PHONE_NUMBER_ID, customer=customer, text=marker),
                       SECRET)


async def fan_out(tabs: list[Tab], hook: httpx.AsyncClient, servers: list[AppServer], rounds: int,
                  tag: str) -> dict[str, float]:
    """`rounds` webhooks 500 ms apart; latency samples per tab and webhook, updates and bytes per tab."""
    samples: list[float] = []
    missed = 0
    marks = [len(tab.arrivals) for tab in tabs]
    returning = Customer(wa_id=f"92300{secrets.randbelow(10**7):07d}", name=f"Returning {tag}")
    cpu0, own0 = sum(server_cpu(s) for s in servers), time.process_time()
    for index in range(rounds):
        marker = f"fanout {tag} {index} {secrets.token_hex(3)}"
        customer = returning if index % 2 else Customer(wa_id=f"92311{secrets.randbelow(10**7):07d}",
                                                        name=f"Customer {tag} {index}")
        body, headers = webhook(marker, customer)
        posted = time.monotonic()
        response = await hook.post("/webhooks/whatsapp", content=body, headers=headers)
        if response.status_code != 200 or response.json().get("stored") != 1:
            raise RuntimeError(f"webhook failed: {response.status_code} {response.text[:200]}")
        await asyncio.sleep(0.5)
        deadline = posted + 15.0
        for tab in tabs:
            seen = next((at for at, _, text in tab.arrivals if at >= posted and marker in text), None)
            while seen is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                seen = next((at for at, _, text in tab.arrivals if at >= posted and marker in text), None)
            if seen is None:
                missed += 1
            else:
                samples.append((seen - posted) * 1000)
    await quiet(servers, limit=60)
    cpu = sum(server_cpu(s) for s in servers) - cpu0
    updates = [len(tab.arrivals) - start for tab, start in zip(tabs, marks, strict=True)]
    sizes = [sum(size for _, size, _ in tab.arrivals[start:]) for tab, start in zip(tabs, marks, strict=True)]
    return {"p50": pct(samples, 50), "p99": pct(samples, 99), "missed": missed,
            "cpu": cpu / rounds, "own_cpu": (time.process_time() - own0) / rounds,
            "updates": sum(updates) / len(tabs), "kb_per_push": sum(sizes) / max(1, sum(updates)) / 1024}


async def storm(url: str, cookie: str, count: int, servers: list[AppServer]) -> tuple[list[Tab], dict[str, float]]:
    """`count` tabs open at once; server CPU until quiet, and when the last one showed its board."""
    cpu0, started = sum(server_cpu(s) for s in servers), time.monotonic()
    opened = await asyncio.gather(*(open_tab(url, cookie) for _ in range(count)), return_exceptions=True)
    tabs = [tab for tab in opened if isinstance(tab, Tab)]
    board = BoardState.get_full_name()
    for tab in tabs:
        while not any(board in text and ('"columns' in text or '"stages' in text) for _, _, text in tab.arrivals) and (
                time.monotonic() - started < 600):
            await asyncio.sleep(0.05)
    shown = time.monotonic() - started
    _, went_quiet = await quiet(servers)
    return tabs, {"cpu": sum(server_cpu(s) for s in servers) - cpu0, "shown_s": shown, "quiet": float(went_quiet),
                  "failed": float(count - len(tabs))}


async def click(tabs: list[Tab], hook: httpx.AsyncClient, servers: list[AppServer], after_webhook: bool
                ) -> tuple[float, float]:
    """(ms to the clicking tab's own answer, updates the other tabs got from the click)."""
    await quiet(servers, limit=30)
    me, others = tabs[0], tabs[1:]
    before = [len(tab.arrivals) for tab in others]
    if after_webhook:
        body, headers = webhook(f"click bench {secrets.token_hex(3)}", Customer(
            wa_id=f"92322{secrets.randbelow(10**7):07d}", name="Click Bench"))
        await hook.post("/webhooks/whatsapp", content=body, headers=headers)
    start = len(me.arrivals)
    sent = time.monotonic()
    await me.sock.emit(event_name(BoardState, "show_more_cards"), {})
    while not any("cards_per_stage" in text for _, _, text in me.arrivals[start:]) and time.monotonic() - sent < 30:
        await asyncio.sleep(0.005)
    answer = next((at for at, _, text in me.arrivals[start:] if "cards_per_stage" in text), float("nan"))
    await quiet(servers, limit=30)
    from_click = 0 if after_webhook else sum(len(tab.arrivals) - n for tab, n in zip(others, before, strict=True))
    return (answer - sent) * 1000, from_click / max(1, len(others))


def seed(url: str, contacts: int) -> None:
    upgrade_to_head(url)
    database = Database(url)
    database.keyring.ensure_active_key()
    with database.session() as db:
        demo.seed_demo(db, contacts=contacts)
        number = db.scalar(select(WhatsAppNumber).where(WhatsAppNumber.phone_number_id == demo.DEMO_PHONE_NUMBER_ID))
        assert number is not None
        number.app_secret = SECRET
    database.dispose()


async def run_mode(mode: str, args: argparse.Namespace, tmp: Path) -> None:
    use_pg = mode == "redis" and postgres_reachable() is None
    url = create_pg_database() if use_pg else f"sqlite:///{tmp / 'fanout.db'}"
    servers: list[AppServer] = []
    started = time.monotonic()
    try:
        seed(url, args.contacts)
        env = {"DATABASE_URL": url, "PKCRM_INSTANCE_DIR": str(tmp)}
        if mode == "redis":
            import redis

            redis.Redis.from_url(REDIS_TEST_URL).flushdb()
            env |= {"REDIS_URL": REDIS_TEST_URL, "GRANIAN_WORKERS": "2"}
        servers.append(AppServer(env, tmp / f"{mode}-ui.log").start())
        ui = servers[0]
        print(f"{mode}: {'PostgreSQL' if use_pg else 'SQLite'}, {args.contacts} demo leads seeded and app up in "
              f"{time.monotonic() - started:.0f} s", flush=True)
        async with httpx.AsyncClient(base_url=ui.url, timeout=60) as client:
            login = await client.post("/auth/login", data={"email": "manager@demo.pkcrm.test",
                                                           "password": demo.DEMO_PASSWORD})
            cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
            if login.status_code >= 400 or not cookie:
                raise RuntimeError(f"login failed: {login.status_code}")
            cpu0 = sum(server_cpu(s) for s in servers)
            await asyncio.sleep(10.0)
            idle = (sum(server_cpu(s) for s in servers) - cpu0) / 10.0
            print(f"idle server (job runners polling, sweeps): {idle * 1000:.0f} ms of CPU a second; a webhook round "
                  f"lasts about 0.6 s, so about {idle * 600:.0f} ms of each CPU/webhook figure below is idle",
                  flush=True)
            print(f"{'tabs':>5} | {'p50 ms':>7} {'p99 ms':>7} missed | {'CPU/webhook':>11} {'bench CPU':>9} | "
                  f"{'updates/tab':>11} {'KB/update':>9} | {'storm CPU s':>11} {'all shown s':>11} | "
                  f"{'click ms':>8} {'after hook':>10} {'others got':>10}", flush=True)
            for count in args.tabs:
                tabs, opened = await storm(ui.url, cookie, count, servers)
                result = await fan_out(tabs, client, servers, args.webhooks, f"{mode}{count}")
                quiet_click, others_got = await click(tabs, client, servers, after_webhook=False)
                hook_click, _ = await click(tabs, client, servers, after_webhook=True)
                storm_cpu = f"{opened['cpu']:.1f}" + ("" if opened["quiet"] else "+")
                print(f"{count:>5} | {result['p50']:>7.0f} {result['p99']:>7.0f} {result['missed']:>6.0f} | "
                      f"{result['cpu']:>9.3f} s {result['own_cpu']:>7.3f} s | {result['updates']:>11.1f} "
                      f"{result['kb_per_push']:>9.1f} | {storm_cpu:>11} {opened['shown_s']:>11.1f} | "
                      f"{quiet_click:>8.0f} {hook_click:>10.0f} {others_got:>10.1f}", flush=True)
                await asyncio.gather(*(tab.sock.close() for tab in tabs))
                await quiet(servers, limit=60)
    finally:
        for server in reversed(servers):
            server.stop()
        if args.keep_logs:
            for log in tmp.glob("*.log"):
                (Path(args.keep_logs) / log.name).write_bytes(log.read_bytes())
        if use_pg:
            drop_pg_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tabs", default="1,10,50,100", help="tab counts, comma-separated")
    parser.add_argument("--webhooks", type=int, default=20)
    parser.add_argument("--contacts", type=int, default=4000, help="demo leads")
    parser.add_argument("--mode", choices=["embedded", "redis"], action="append")
    parser.add_argument("--keep-logs", metavar="DIR", help="copy the app logs here")
    args = parser.parse_args()
    args.tabs = [int(n) for n in args.tabs.split(",")]
    for mode in args.mode or ["embedded", "redis"]:
        with tempfile.TemporaryDirectory(prefix=f"pkcrm-fanout-{mode}-") as tmp:
            asyncio.run(run_mode(mode, args, Path(tmp)))


if __name__ == "__main__":
    main()
