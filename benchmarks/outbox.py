"""Outbox throughput against the local Cloud API simulator: messages/s, and never above the per-number limit.

Queues N text messages (each with its message row, in one transaction per send as agents do), then lets one
sender drain the outbox against the simulator over HTTP on loopback. The busiest one-second window is taken
from the simulator's own arrival times. Two runs per database: a number at Meta's default 80 messages/s, and an
upgraded number (1000/s) that shows the sender's own ceiling. Runs on SQLite and, when reachable, PostgreSQL.

    .venv/bin/python benchmarks/outbox.py [--messages 800]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from bisect import bisect_left
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import update

from pkcrm_app.channels.whatsapp.models import WhatsAppNumber
from pkcrm_app.core.crypto import MasterKeys
from pkcrm_app.core.db import Database, set_database
from pkcrm_app.core.migrate import upgrade_to_head
from pkcrm_app.inbox.outbox import service as outbox
from pkcrm_app.inbox.outbox.sender import Sender
from tests.conftest import TEST_MASTER_KEY, create_pg_database, drop_pg_database, postgres_reachable
from tests.support.outbox import add_lead, client_factory, make_shop, sim_state, simulator


def busiest_second(times: list[float]) -> int:
    ordered = sorted(times)
    return max((i - bisect_left(ordered, t - 1.0) + 1 for i, t in enumerate(ordered)), default=0)


def one_run(database: Database, slug: str, phone: str, limit: int, messages: int) -> None:
    shop = make_shop(database, slug, phone)
    with database.session() as db:
        db.execute(update(WhatsAppNumber).where(WhatsAppNumber.id == shop.number_id)
                   .values(messages_per_second=limit))
    leads = [add_lead(database, shop, f"92{i:05d}314159") for i in range(min(messages, 200))]
    started = time.perf_counter()
    with database.session() as db:
        for i in range(messages):
            outbox.send_text(db, shop.agent(), leads[i % len(leads)], f"Offer {i}")
            db.commit()  # one send, one transaction: as an agent's click does
    queued = time.perf_counter() - started
    state = sim_state(shop, rate=limit)  # the simulator answers 130429 above the limit, as Meta does
    with simulator(state) as url:
        sender = Sender(database, client_factory=client_factory(url), batch_size=100)
        started = time.perf_counter()
        while sender.run_once():
            pass
        elapsed = time.perf_counter() - started
        sender.close()
    times = [m["at"] for m in state.messages]
    peak = busiest_second(times)
    print(f"  limit {limit:>4}/s: queued {messages} in {queued:.2f} s ({messages / queued:.0f} sends/s by agents); "
          f"delivered {len(state.messages)} in {elapsed:.2f} s = {len(state.messages) / elapsed:.1f} msg/s; "
          f"busiest 1-s window {peak} (limit {limit}); 130429 answers {state.throttled}")
    assert len(state.messages) == messages, "not every message was delivered"
    assert peak <= limit and state.throttled == 0, "the per-number limit was exceeded"


def run(label: str, url: str, messages: int) -> None:
    print(f"{label}:")
    upgrade_to_head(url)
    database = Database(url, MasterKeys.parse(TEST_MASTER_KEY))
    set_database(database)
    try:
        one_run(database, "bench-default", "9001", 80, messages)
        one_run(database, "bench-upgraded", "9002", 1000, messages * 2)
    finally:
        set_database(None)
        database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=800)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run("SQLite", f"sqlite:///{tmp}/bench.db", args.messages)
    if reason := postgres_reachable():
        print(f"PostgreSQL: skipped ({reason})")
        return
    url = create_pg_database()
    try:
        run("PostgreSQL", url, args.messages)
    finally:
        drop_pg_database(url)


if __name__ == "__main__":
    main()
