"""Delivers committed domain events to the organisation's shared state, on any worker.

Pushes are coalesced per organisation: the first change is pushed at once; changes that arrive while
a push is under way, or within MIN_INTERVAL of it, are merged into one following push, so a burst of
webhooks costs every open tab a few refreshes, not one per message.

Each topic moves the counters COUNTERS names, remembering the ids its event keeps, so a tab can tell
whether a change concerns what it shows. A `sessions` event (logout, revocation, deactivation, role or
password change, organisation deletion) moves none: it cuts off the tabs of every session that ended, and a
sweep does the same for sessions that time out by themselves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import reflex as rx

from pkcrm_app.accounts.identity.tabs import ended_tabs, forget_tabs
from pkcrm_app.core import events
from pkcrm_app.core.db import get_database
from pkcrm_app.core.events import DomainEvent, Topic
from pkcrm_app.live import sessions as live_sessions
from pkcrm_app.live.state import Counter, OrgLive, link_token, record_changes

log = logging.getLogger(__name__)
MIN_INTERVAL = 0.05  # seconds between two pushes to the same organisation
SWEEP_SECONDS = 30.0  # how often tabs of sessions that timed out by themselves are cut off

CutOff = Callable[[Any, str, str], Awaitable[None]]  # (app, client token, ended session id): sign the tab out
Changes = dict[Counter, set[int] | None]  # counter -> the ids it moves for (None: ids nobody named)

# The one table from topics to the counters tabs watch; a test holds it to the topics services emit.
COUNTERS: dict[Topic, tuple[Counter, ...]] = {
    Topic.LEADS: ("leads_rev",),
    Topic.LEAD_MOVED: ("leads_rev",),
    Topic.CONVERSATION_READ: ("leads_rev",),
    Topic.MESSAGES: ("messages_rev",),
    Topic.TEMPLATES: ("templates_rev",),
    Topic.IMPORTS: ("imports_rev",),
    Topic.ALERTS: ("alerts_rev",),
    Topic.REVIEWS: ("alerts_rev",),
    Topic.SESSIONS: (),  # cuts off the ended sessions' tabs instead
}

_loop: asyncio.AbstractEventLoop | None = None
_app: Any = None
_pending: dict[int, Changes] = {}
_draining: dict[int, asyncio.Task[None]] = {}
_cut_off: CutOff | None = None
_sweeping: asyncio.Task[None] | None = None
_sweep_again = False


async def bump(org_id: int, changes: Changes) -> None:
    """Move the organisation's counters; Reflex fans the change out to every linked tab."""
    token = rx.BaseStateToken(ident=link_token(org_id), cls=OrgLive)
    async with _app.modify_state(token) as root:
        record_changes(await root.get_state(OrgLive), changes)


def merge(changes: Changes, evt: DomainEvent) -> None:
    """Add an event to the changes waiting for the next push (an event naming no id concerns them all)."""
    ids = set(evt.marks()) or None
    for counter in COUNTERS[evt.topic]:
        if counter not in changes:
            changes[counter] = ids
        else:
            known = changes[counter]
            changes[counter] = None if known is None or ids is None else known | ids


def _ended_tabs() -> list[tuple[str, str]]:
    with get_database().session() as db:
        return ended_tabs(db)


def _forget(ended: list[tuple[str, str]]) -> None:
    with get_database().session() as db:
        forget_tabs(db, ended)
        db.commit()


async def cut_off_ended_tabs() -> int:
    """Reset and unlink every tab whose session ended; returns how many were cut off."""
    if _cut_off is None:
        return 0
    ended = await asyncio.to_thread(_ended_tabs)
    for token, session_id in ended:
        try:
            await _cut_off(_app, token, session_id)
        except Exception:
            log.exception("cutting off tab %s… failed", token[:8])
    await asyncio.to_thread(_forget, ended)
    return len(ended)


async def _sweep_once() -> None:
    try:
        await cut_off_ended_tabs()
    except Exception:
        log.exception("cutting off tabs of ended sessions failed")


async def _sweep_while_asked() -> None:
    global _sweep_again
    while _sweep_again:
        _sweep_again = False
        await _sweep_once()


def _sweep_soon() -> None:
    """Cut off ended sessions' tabs now; a request during a sweep runs one more after it."""
    global _sweeping, _sweep_again
    _sweep_again = True
    if _sweeping is None or _sweeping.done():
        _sweeping = asyncio.get_running_loop().create_task(_sweep_while_asked())


async def _drain(org_id: int) -> None:
    try:
        while changes := _pending.pop(org_id, None):
            started = time.monotonic()
            try:
                await bump(org_id, changes)
            except Exception:
                log.exception("live push to organisation %s failed", org_id)
            await asyncio.sleep(max(0.0, MIN_INTERVAL - (time.monotonic() - started)))
    finally:
        _draining.pop(org_id, None)


def publish(batch: list[DomainEvent]) -> None:
    """Queue the batch's changes per organisation and start a drain where none runs (event loop only)."""
    if any(evt.topic is Topic.SESSIONS for evt in batch):
        live_sessions.forget_all()  # before any push of this batch recomputes a tab
        _sweep_soon()
    for evt in batch:
        if not COUNTERS[evt.topic]:
            continue
        merge(_pending.setdefault(evt.org_id, {}), evt)
        if evt.org_id not in _draining:
            _draining[evt.org_id] = asyncio.get_running_loop().create_task(_drain(evt.org_id))


def _on_commit(batch: list[DomainEvent]) -> None:
    loop = _loop
    if loop is not None and not loop.is_closed():
        loop.call_soon_threadsafe(publish, batch)


class _QuietOrgTokens(logging.Filter):
    """The organisation's own token has no socket by design; Reflex warns about it on every push."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "disconnected client 'org-" not in record.getMessage()


def install(app: Any, cut_off: CutOff) -> None:
    """Route domain events of this process to the app's shared states; `cut_off` signs a tab out."""
    global _app, _cut_off
    _app, _cut_off = app, cut_off
    logging.getLogger("reflex.app").addFilter(_QuietOrgTokens())

    async def bind_loop() -> None:
        global _loop
        _loop = asyncio.get_running_loop()
        events.subscribe(_on_commit)

    async def sweep_forever() -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            await _sweep_once()

    app.register_lifespan_task(bind_loop)
    app.register_lifespan_task(sweep_forever)
