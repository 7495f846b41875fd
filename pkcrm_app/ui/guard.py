"""The one gate every websocket event passes first: the tab must still be the session it signed in with.

Registered with `app.add_middleware`, so its `preprocess` runs before every event, hydrate (the
connection's boot event, which sends the whole state) included. A page state remembers the session it was bound
to (`SessionMixin._session_key`); the guard compares it with the session behind the cookie this socket
connected with, and with the session's life. A mismatch (logged out, revoked, expired, another person's
cookie, or no cookie at all on a socket that reuses the tab's client token) resets every signed-in page
state of the tab, takes it off the organisation's live channel and sends it to the sign-in page, so the
socket gets nothing of what the tab showed.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import reflex as rx
from reflex.event import Event
from reflex.middleware.middleware import Middleware
from reflex.state import BaseState, StateUpdate

from pkcrm_app.accounts.identity.models import session_id_for
from pkcrm_app.live import hub
from pkcrm_app.live import sessions as live_sessions
from pkcrm_app.live.state import LiveTab
from pkcrm_app.live.tokens import is_client_token
from pkcrm_app.ui.live_parts import refresh_tab
from pkcrm_app.ui.session import SessionMixin, cookie_token

log = logging.getLogger(__name__)
# The events that send a tab the whole state: the (re)connect's boot event and the older hydrate.
HYDRATE_EVENTS = frozenset(f"{rx.State.get_full_name()}.{name}" for name in ("hydrate_and_load", "hydrate"))


@functools.cache
def signed_in_page_states() -> tuple[type[BaseState], ...]:
    """The page states that hold a signed-in identity (each top-level SessionMixin state of the app; the
    state tree is fixed once the app is built, so it is walked once)."""
    found: list[type[BaseState]] = []
    pending = list(rx.State.get_substates())
    while pending:
        cls = pending.pop()
        if issubclass(cls, SessionMixin):
            found.append(cls)  # its substates (e.g. the reply box under the board) reset with it
        else:
            pending.extend(cls.get_substates())
    return tuple(sorted(found, key=lambda cls: cls.get_full_name()))


def _page_of(cls: type[BaseState]) -> type[BaseState]:
    while (parent := cls.get_parent_state()) is not None and issubclass(parent, SessionMixin):
        cls = parent
    return cls


async def _pages_to_check(root: BaseState, event: Event, *, everything: bool) -> list[Any]:
    """The signed-in page states this event can read: all of them on hydrate, else the handler's own page
    state and those already loaded in the tree (their computed vars may be part of the delta)."""
    classes = signed_in_page_states()
    if everything:
        return [await root.get_state(cls) for cls in classes]
    pages: list[Any] = []
    try:
        target = root.get_class_substate(event.name.rpartition(".")[0])
    except ValueError:
        target = None
    if target is not None and issubclass(target, SessionMixin):
        pages.append(await root.get_state(_page_of(target)))
    for cls in classes:
        try:
            loaded = root._get_state_from_cache(cls)
        except ValueError:
            continue
        if loaded not in pages:
            pages.append(loaded)
    return pages


async def cut_off(root: Any, *, notice: bool, pages: list[Any] | None = None, only_session: str = "") -> None:
    """Forget who the tab was signed in as and take it off its organisation's live channel.

    With `only_session`, only page states bound to that (ended) session are reset, and the tab stays linked
    when another page of it is already bound to a newer session (signed in again meanwhile)."""
    if pages is None:
        pages = [await root.get_state(cls) for cls in signed_in_page_states()]
    still_signed_in = False
    for page in pages:
        if only_session and page._session_key and page._session_key != only_session:
            still_signed_in = True
        elif page._session_key or page._org_id or page.role:
            page.reset()
            page.signed_out = notice
    if not still_signed_in:
        live: Any = await root.get_state(LiveTab)
        live._org_id = 0
        hub.leave(root.router.session.client_token)


async def cut_off_tab(app: Any, client_token: str, session_id: str) -> None:
    """The live bridge's way to sign out one tab whose session ended (no event of the tab is running)."""
    if not is_client_token(client_token):
        return
    async with app.modify_state(rx.BaseStateToken(ident=client_token, cls=LiveTab)) as root:
        await cut_off(root, notice=True, only_session=session_id)


class TabGuard(Middleware):
    """Refuses foreign client tokens and cuts off tabs whose session is not the live one of this socket."""

    async def preprocess(self, app: Any, state: Any, event: Event) -> StateUpdate | None:  # noqa: ARG002
        client_token = state.router.session.client_token
        if not is_client_token(client_token):
            log.warning("websocket event refused: the client token is not a tab's own (v4 UUID)")
            return StateUpdate()
        if event.name.rpartition(".")[2] == "setvar":
            # Reflex's generic setter: the UI never sends it, and it would let a client set any public var.
            log.warning("websocket event refused: setvar is not open to clients")
            return StateUpdate()
        hydrating = event.name in HYDRATE_EVENTS
        pages = await _pages_to_check(state, event, everything=hydrating)
        bound = {page._session_key for page in pages if page._session_key}
        if not bound:
            return None
        cookie_key = session_id_for(cookie_token(state.router.headers.cookie))
        if bound == {cookie_key} and await live_sessions.alive(cookie_key):
            if hydrating:  # a tab back after missing pushes: its page data are read afresh in this one delta
                await refresh_tab(state, everything=True)
            return None
        log.info("tab %s… cut off: its session ended or this connection carries another cookie", client_token[:8])
        await cut_off(state, notice=False, pages=pages)
        if hydrating:
            return None  # the blank page state is sent; its on_load then sends the tab to the sign-in page
        delta = await state._get_resolved_delta()
        state._clean()
        return StateUpdate(delta=delta, events=Event.from_event_type(rx.redirect("/login")))
