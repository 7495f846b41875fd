"""Claiming rows of a queue table with a lease: the one place that takes, keeps alive and gives back work.

A queue table has `lease_owner` and `lease_until` columns (and usually `attempts`). A row is claimable when its
kind says it is ready and nobody holds a live lease on it. PostgreSQL picks the rows with FOR UPDATE SKIP LOCKED,
so several workers share a queue without waiting on each other; SQLite (one writer at a time) claims with one
conditional UPDATE, after a read that finds something to claim (an idle queue polled every 0.2 s must not take
the one write lock webhooks need). Either way the claim is one statement that returns the claimed keys.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute

from pkcrm_app.core.base import utcnow
from pkcrm_app.core.db import Database

log = logging.getLogger("pkcrm.jobs")


@dataclass(frozen=True)
class LeaseQueue:
    """A table whose rows are jobs of one kind, and which of them are ready (`ready(due_by)`)."""

    model: type[Any]
    ready: Callable[[datetime], ColumnElement[bool]]
    order: tuple[str, ...]
    key: str = "id"
    on_claim: Callable[[datetime], Mapping[str, Any]] = lambda _now: {}  # e.g. the state a claimed row moves to
    counts_attempts: bool = True

    def column(self, name: str) -> InstrumentedAttribute[Any]:
        return getattr(self.model, name)  # type: ignore[no-any-return]


def backoff(attempts: int, *, base: float = 1.0, cap: float = 300.0, jitter: bool = True) -> float:
    """Seconds before the next try: base, 2 base, 4 base ... capped; with jitter, each in [half, whole]."""
    wait = min(cap, base * 2.0 ** max(attempts - 1, 0))
    return wait * random.uniform(0.5, 1.0) if jitter else wait


def claim(database: Database, queue: LeaseQueue, owner: str, *, limit: int, lease: timedelta,
          only: Collection[Any] | None = None, due_by: datetime | None = None) -> list[Any]:
    """Take up to `limit` ready rows nobody holds (only those in `only`, if given); returns their keys."""
    now = utcnow()
    key, until = queue.column(queue.key), queue.column("lease_until")
    pick = select(key).where(queue.ready(max(now, due_by or now)), or_(until.is_(None), until < now))
    if only is not None:
        pick = pick.where(key.in_(list(only)))
    pick = pick.order_by(*(queue.column(name) for name in queue.order)).limit(limit)
    # Look before taking any lock: an idle queue then costs a read, not a write transaction (SQLite's one writer
    # is never held up by it, and PostgreSQL commits nothing for it, several times a second per worker).
    with database.engine.connect() as conn:
        if conn.execute(pick).first() is None:
            return []
    if database.engine.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    values: dict[str, Any] = {"lease_owner": owner, "lease_until": now + lease, **queue.on_claim(now)}
    if queue.counts_attempts:
        values["attempts"] = queue.column("attempts") + 1
    with database.engine.begin() as conn:
        claimed = conn.execute(update(queue.model).where(key.in_(pick)).values(**values).returning(key))
        return sorted(row[0] for row in claimed)


def extend(database: Database, queue: LeaseQueue, owner: str, keys: Collection[Any], lease: timedelta) -> int:
    """The heartbeat: the leases of `keys` this owner still holds run until now + lease."""
    if not keys:
        return 0
    key = queue.column(queue.key)
    with database.engine.begin() as conn:
        result = conn.execute(update(queue.model).where(key.in_(list(keys)), queue.column("lease_owner") == owner)
                              .values(lease_until=utcnow() + lease))
        return int(result.rowcount)


def release(database: Database, queue: LeaseQueue, owner: str, keys: Collection[Any]) -> None:
    """Give rows back once their work recorded its outcome: `ready` alone decides when they run again."""
    if keys:
        key = queue.column(queue.key)
        with database.engine.begin() as conn:
            conn.execute(update(queue.model).where(key.in_(list(keys)), queue.column("lease_owner") == owner)
                         .values(lease_owner=None, lease_until=None))


def release_after_failure(database: Database, queue: LeaseQueue, owner: str, item: Any) -> float:
    """An unexpected failure: nobody may claim the row before a back-off (by its attempts) has passed."""
    key = queue.column(queue.key)
    with database.engine.begin() as conn:
        attempts = conn.scalar(select(queue.column("attempts")).where(key == item)) if queue.counts_attempts else 1
        wait = backoff(int(attempts or 1))
        conn.execute(update(queue.model).where(key == item, queue.column("lease_owner") == owner)
                     .values(lease_owner=None, lease_until=utcnow() + timedelta(seconds=wait)))
    return wait


class Heartbeat:
    """Keeps the leases of claimed rows alive while their work runs, from a thread of its own: a worker that dies
    stops beating, its leases run out, and another worker takes the rows over."""

    def __init__(self, database: Database, queue: LeaseQueue, owner: str, keys: Collection[Any],
                 lease: timedelta) -> None:
        self.database, self.queue, self.owner, self.lease = database, queue, owner, lease
        self.held = set(keys)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="job-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def finished(self, key: Any) -> None:
        self.held.discard(key)

    def _beat(self) -> None:
        interval = max(self.lease.total_seconds() / 3, 0.05)
        while not self._stop.wait(interval):
            try:
                extend(self.database, self.queue, self.owner, set(self.held), self.lease)
            except Exception:  # a missed beat is not fatal: the lease has two more intervals to run
                log.exception("heartbeat of %s failed", self.queue.model.__name__)
