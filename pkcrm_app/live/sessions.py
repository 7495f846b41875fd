"""Whether the session a tab is bound to still lives, cached per process.

Computed vars recomputed by a push (another tab's change, a webhook) have no cookie to resolve, so they ask
here; the websocket guard asks here about the session behind a socket's cookie. An entry holds the session's
own deadline (absolute or idle time-out) and is trusted for at most CHECK_SECONDS; every `sessions` event of
this process empties the cache before the push that follows it, and the process that commits a revocation
is the one that recomputes the linked tabs."""

from __future__ import annotations

import asyncio
import time

from pkcrm_app.accounts.identity.service import session_deadline
from pkcrm_app.core.db import get_database, utcnow

CHECK_SECONDS = 10.0
MAX_ENTRIES = 10_000

_entries: dict[str, tuple[float, float]] = {}  # session id -> (alive until, checked at), monotonic seconds
_reading: dict[str, asyncio.Future[bool]] = {}  # session id -> its read under way


def forget_all() -> None:
    """A session ended somewhere in this process: check every binding afresh (reads under way may predate it)."""
    _entries.clear()
    _reading.clear()


def _known(session_id: str) -> bool | None:
    entry = _entries.get(session_id)
    if entry is None:
        return None
    alive_until, checked_at = entry
    now = time.monotonic()
    if now - checked_at > CHECK_SECONDS:
        return None
    return now < alive_until


def check(session_id: str) -> bool:
    """Read the session from the database (blocking) and remember its deadline."""
    with get_database().session() as db:
        deadline = session_deadline(db, session_id)
    now = time.monotonic()
    alive_until = now + (deadline - utcnow()).total_seconds() if deadline is not None else 0.0
    if len(_entries) >= MAX_ENTRIES:
        _entries.clear()
    _entries[session_id] = (alive_until, now)
    return deadline is not None


async def alive(session_id: str) -> bool:
    """Whether the bound session lives; answered from the cache when it is fresh, else by one read however many
    tabs of the session ask at once (a push reaches them all together)."""
    if not session_id:
        return False
    known = _known(session_id)
    if known is not None:
        return known
    reading = _reading.get(session_id)
    if reading is None:
        reading = _reading[session_id] = asyncio.ensure_future(asyncio.to_thread(check, session_id))
        reading.add_done_callback(lambda done: _reading.pop(session_id) if _reading.get(session_id) is done else None)
    return await asyncio.shield(reading)
