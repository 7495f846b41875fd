"""Delivers committed domain events to the open tabs of their organisation, on every worker.

A committed batch becomes, per organisation, the counters it moves and the ids it moved them for; with Redis
that goes out on one pub/sub channel (live/channel.py), so every worker hears every change, else it stays in the
process. Each worker then moves the organisation's marks (live/hub.py) and pushes the moved
counters to each tab it serves for that organisation, all at once, each under that tab's own lock: tabs share
no state and no lock, a tab's own clicks and page loads reach nobody else, and what the tabs then re-read goes
through the view cache (one read per distinct view).

Tabs that are to be sent the same thing share one delta: the page's refresh says what a tab is sent as a key
(the parts and their content digests); the first tab with a key has Reflex compute the delta, the others only
note what they were sent, and each delta goes out as one encoded frame to all of its tabs' sockets. What a tab
is sent that only it sees (its open conversation, counters its own vars read) it gets on its own.

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
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import reflex as rx
from reflex.state import StateUpdate

from pkcrm_app.accounts.identity.tabs import ended_tabs, forget_tabs
from pkcrm_app.core import events
from pkcrm_app.core.db import get_database
from pkcrm_app.core.events import DomainEvent, Topic
from pkcrm_app.live import hub, memo
from pkcrm_app.live import sessions as live_sessions
from pkcrm_app.live.channel import RedisChannel
from pkcrm_app.live.hub import Changes
from pkcrm_app.live.state import COUNTER_NAMES, Counter, LiveTab, mark_moved
from pkcrm_app.settings import get_settings

log = logging.getLogger(__name__)
MIN_INTERVAL = 0.05  # seconds between two pushes to the same organisation
SWEEP_SECONDS = 30.0  # how often tabs of sessions that timed out by themselves are cut off

CutOff = Callable[[Any, str, str], Awaitable[None]]  # (app, client token, ended session id): sign the tab out
# (tab's root state, moved counters): update the tab; returns a key naming what it is to be sent, the same for
# every tab to be sent the same delta (None: a delta of its own).
Refresh = Callable[[Any, tuple[Counter, ...]], Awaitable[Hashable | None]]
Delta = dict[str, dict[str, Any]]

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



async def _move_counters(root: Any, moved: tuple[Counter, ...]) -> None:
    """The refresh until the UI installs its own: only the counters move."""
    mark_moved(await root.get_state(LiveTab), moved)


_loop: asyncio.AbstractEventLoop | None = None
_app: Any = None
_pending: dict[int, Changes] = {}
_draining: dict[int, asyncio.Task[None]] = {}
_cut_off: CutOff | None = None
_refresh: Refresh = _move_counters
_sweeping: asyncio.Task[None] | None = None
_sweep_again = False
_channel: RedisChannel | None = None


def _socket_here(client_token: str) -> str | None:
    """The tab's socket id if that socket is connected to this worker (another worker serves it otherwise)."""
    namespace = getattr(_app, "event_namespace", None)
    if namespace is None:
        return None
    manager = namespace._token_manager
    record = manager.token_to_socket.get(client_token)
    return record.sid if record is not None and record.instance_id == manager.instance_id else None


Outcome = tuple[Hashable, Delta | None] | None  # (a shared key or the tab's token, its delta if it computed one)


async def _update(client_token: str, org_id: int, moved: tuple[Counter, ...],
                  shared: dict[Hashable, asyncio.Future[Delta | None]], outcome: asyncio.Future[Outcome],
                  sent: asyncio.Event) -> None:
    """Update the tab for the moved counters under its lock and give the outcome (None: the tab left the
    organisation); the lock is held until the frames are sent, as Reflex does, so that no event of the tab's own
    sends it something newer before this."""
    try:
        async with _app.state_manager.modify_state(rx.BaseStateToken(ident=client_token, cls=LiveTab)) as root:
            tab = await root.get_state(LiveTab)
            if tab._org_id != org_id:  # cut off, or signed in to another organisation meanwhile
                hub.leave(client_token, only_from=org_id)
                outcome.set_result(None)
                return
            outcome.set_result(await _computed(client_token, root, await _refresh(root, moved), shared))
            await sent.wait()
    except BaseException as exc:
        if not outcome.done():
            outcome.set_exception(exc)
        raise


async def _computed(client_token: str, root: Any, key: Hashable | None,
                    shared: dict[Hashable, asyncio.Future[Delta | None]]) -> Outcome:
    """The first tab with a shared key computes the delta; the others with it take that one."""
    leader = shared.get(key) if key is not None else None
    if leader is not None and await leader is not None:
        root._clean()  # what it is sent is the first tab's delta
        return key, None
    if key is None or leader is not None:  # its own delta (or the first tab's failed)
        key = client_token
    else:
        shared[key] = asyncio.get_running_loop().create_future()
    delta: Delta | None = None
    try:
        delta = await root._get_resolved_delta()
        root._clean()
    finally:
        if key in shared and not shared[key].done():
            shared[key].set_result(delta)
    return key, delta


async def _send(delta: Delta, sids: list[str]) -> None:
    """One encoded frame to all these sockets (socket.io encodes an emit once for all its recipients)."""
    if delta:
        await _app.event_namespace.emit("event", StateUpdate(delta=delta), to=sids)


async def bump(org_id: int, changes: Changes) -> None:
    """Move the organisation's marks on this worker and push the moved counters to each tab served here."""
    marks = hub.marks_of(org_id)
    marks.record(changes)
    moved = tuple(counter for counter in COUNTER_NAMES if counter in changes)
    await memo.prime_all(marks)  # the stale views read before any tab's lock is taken
    sockets: dict[str, str] = {}
    for token in hub.tabs_of(org_id):
        if sid := _socket_here(token):
            sockets[token] = sid
        else:
            hub.leave(token, only_from=org_id)  # closed, or reconnected to another worker (which serves it now)
    loop = asyncio.get_running_loop()
    shared: dict[Hashable, asyncio.Future[Delta | None]] = {}
    outcomes: dict[str, asyncio.Future[Outcome]] = {token: loop.create_future() for token in sockets}
    sent = asyncio.Event()
    updates = [loop.create_task(_update(token, org_id, moved, shared, outcomes[token], sent)) for token in sockets]
    try:
        await _send_outcomes(sockets, outcomes)
    finally:
        sent.set()
        await asyncio.gather(*updates, return_exceptions=True)


async def _send_outcomes(sockets: dict[str, str], outcomes: dict[str, asyncio.Future[Outcome]]) -> None:
    """Once every tab is updated: each distinct delta as one frame to the sockets of the tabs it is for."""
    results = await asyncio.gather(*outcomes.values(), return_exceptions=True)
    deltas: dict[Hashable, Delta] = {}
    recipients: dict[Hashable, list[str]] = {}
    for token, result in zip(outcomes, results, strict=True):
        if isinstance(result, BaseException):
            log.warning("live push to tab %s… failed: %s", token[:8], result.__class__.__name__)
        elif result is not None:
            key, delta = result
            recipients.setdefault(key, []).append(sockets[token])
            if delta is not None:
                deltas[key] = delta
    sends = [_send(deltas[key], sids) for key, sids in recipients.items() if key in deltas]
    for outcome in await asyncio.gather(*sends, return_exceptions=True):
        if isinstance(outcome, BaseException):
            log.warning("live push frame failed: %s", outcome.__class__.__name__)


def merge(changes: Changes, evt: DomainEvent) -> None:
    """Add an event to the changes waiting for the next push (an event naming no id concerns them all)."""
    ids = set(evt.marks()) or None
    for counter in COUNTERS[evt.topic]:
        _add(changes, counter, ids)


def _add(changes: Changes, counter: Counter, ids: set[int] | None) -> None:
    """The counter moves for these ids too (None: for any)."""
    if counter not in changes:
        changes[counter] = None if ids is None else set(ids)
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


def queue(by_org: dict[int, Changes]) -> None:
    """Merge changes into those waiting per organisation and start a drain where none runs (event loop only)."""
    for org_id, changes in by_org.items():
        waiting = _pending.setdefault(org_id, {})
        for counter, ids in changes.items():
            _add(waiting, counter, ids)
        if org_id not in _draining:
            _draining[org_id] = asyncio.get_running_loop().create_task(_drain(org_id))


def changes_by_org(batch: list[DomainEvent]) -> dict[int, Changes]:
    by_org: dict[int, Changes] = {}
    for evt in batch:
        if COUNTERS[evt.topic]:
            merge(by_org.setdefault(evt.org_id, {}), evt)
    return by_org


def publish(batch: list[DomainEvent]) -> None:
    """Hand the batch's changes to every worker (Redis) or to this one, per organisation (event loop only)."""
    if any(evt.topic is Topic.SESSIONS for evt in batch):
        live_sessions.forget_all()  # before any push of this batch recomputes a tab
        _sweep_soon()
    by_org = changes_by_org(batch)
    if not by_org:
        return
    if _channel is None:
        queue(by_org)
    else:
        _channel.publish(by_org)


def _on_commit(batch: list[DomainEvent]) -> None:
    loop = _loop
    if loop is not None and not loop.is_closed():
        loop.call_soon_threadsafe(publish, batch)


def install(app: Any, cut_off: CutOff, refresh: Refresh) -> None:
    """Route committed domain events to the open tabs; `cut_off` signs a tab out, `refresh` updates one for the
    counters a change moved."""
    global _app, _cut_off, _refresh
    _app, _cut_off, _refresh = app, cut_off, refresh

    async def bind_loop() -> None:
        global _loop, _channel
        _loop = asyncio.get_running_loop()
        redis_url = get_settings().redis_url
        if redis_url:
            _channel = RedisChannel(redis_url)
            listener = _loop.create_task(_channel.listen(queue))
        events.subscribe(_on_commit)
        try:
            await asyncio.Event().wait()  # the app's lifetime
        finally:
            events.unsubscribe(_on_commit)
            if redis_url:
                listener.cancel()
                with contextlib.suppress(BaseException):
                    await listener

    async def sweep_forever() -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            await _sweep_once()

    app.register_lifespan_task(bind_loop)
    app.register_lifespan_task(sweep_forever)
