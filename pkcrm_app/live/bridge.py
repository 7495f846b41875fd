"""Delivers committed domain events to the organisation's shared state, on any worker.

Pushes are coalesced per organisation: the first change is pushed at once; changes that arrive while
a push is under way, or within MIN_INTERVAL of it, are merged into one following push, so a burst of
webhooks costs every open tab a few refreshes, not one per message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import reflex as rx

from pkcrm_app.core import events
from pkcrm_app.core.events import DomainEvent
from pkcrm_app.live.state import OrgLive, link_token

log = logging.getLogger(__name__)
MIN_INTERVAL = 0.05  # seconds between two pushes to the same organisation

_loop: asyncio.AbstractEventLoop | None = None
_app: Any = None
_pending: dict[int, set[str]] = {}
_draining: dict[int, asyncio.Task[None]] = {}


async def bump(org_id: int, topics: set[str]) -> None:
    """Move the organisation's counters; Reflex fans the change out to every linked tab."""
    token = rx.BaseStateToken(ident=link_token(org_id), cls=OrgLive)
    async with _app.modify_state(token) as root:
        live = await root.get_state(OrgLive)
        if "leads" in topics:
            live.leads_rev += 1
        if "messages" in topics:
            live.messages_rev += 1
        if "sessions" in topics:
            live.sessions_rev += 1
        if "alerts" in topics or "reviews" in topics:
            live.alerts_rev += 1
        if "imports" in topics:
            live.imports_rev += 1


async def _drain(org_id: int) -> None:
    try:
        while topics := _pending.pop(org_id, None):
            started = time.monotonic()
            try:
                await bump(org_id, topics)
            except Exception:
                log.exception("live push to organisation %s failed", org_id)
            await asyncio.sleep(max(0.0, MIN_INTERVAL - (time.monotonic() - started)))
    finally:
        _draining.pop(org_id, None)


def publish(batch: list[DomainEvent]) -> None:
    """Queue the batch's topics per organisation and start a drain where none runs (event loop only)."""
    for evt in batch:
        _pending.setdefault(evt.org_id, set()).add(evt.topic)
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


def install(app: Any) -> None:
    """Route domain events of this process to the app's shared states."""
    global _app
    _app = app
    logging.getLogger("reflex.app").addFilter(_QuietOrgTokens())

    async def bind_loop() -> None:
        global _loop
        _loop = asyncio.get_running_loop()
        events.subscribe(_on_commit)

    app.register_lifespan_task(bind_loop)
