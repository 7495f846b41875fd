"""Delivers committed domain events to the organisation's shared state, on any worker."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

import reflex as rx

from pkcrm_app.core import events
from pkcrm_app.core.events import DomainEvent
from pkcrm_app.live.state import OrgLive, link_token

log = logging.getLogger(__name__)
_loop: asyncio.AbstractEventLoop | None = None
_app: Any = None
_tasks: set[asyncio.Task[None]] = set()


async def publish(batch: list[DomainEvent]) -> None:
    """Bump the counters of each organisation named in the batch; Reflex fans out to linked tabs."""
    topics: dict[int, set[str]] = defaultdict(set)
    for evt in batch:
        topics[evt.org_id].add(evt.topic)
    for org_id, org_topics in topics.items():
        token = rx.BaseStateToken(ident=link_token(org_id), cls=OrgLive)
        async with _app.modify_state(token) as root:
            live = await root.get_state(OrgLive)
            if "leads" in org_topics:
                live.leads_rev += 1
            if "messages" in org_topics:
                live.messages_rev += 1


def _on_commit(batch: list[DomainEvent]) -> None:
    loop = _loop
    if loop is None or loop.is_closed():
        return

    def start() -> None:
        task = loop.create_task(publish(batch))
        _tasks.add(task)
        task.add_done_callback(_finished)

    loop.call_soon_threadsafe(start)


def _finished(task: asyncio.Task[None]) -> None:
    _tasks.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("live push failed: %s", task.exception())


def install(app: Any) -> None:
    """Route domain events of this process to the app's shared states."""
    global _app
    _app = app

    async def bind_loop() -> None:
        global _loop
        _loop = asyncio.get_running_loop()
        events.subscribe(_on_commit)

    app.register_lifespan_task(bind_loop)
