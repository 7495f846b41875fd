"""The signed-in user of a tab, read from the HttpOnly session cookie on every page load.

A tab is bound to the session it signed in with (`_session_key`); the guard in `ui/guard.py` checks that
binding on every websocket event, and computed vars re-check it (cached) before every read, because a push
from another tab's change carries no cookie."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from http.cookies import SimpleCookie
from typing import TypeVar

import reflex as rx

from pkcrm_app.accounts.identity import service
from pkcrm_app.accounts.identity.cookies import SESSION_COOKIE
from pkcrm_app.accounts.identity.models import session_id_for
from pkcrm_app.accounts.identity.tabs import bind_tab
from pkcrm_app.audit.service import acting_from
from pkcrm_app.core.authz import ROLE_PERMISSIONS, Actor, Permission, Role
from pkcrm_app.core.db import get_database
from pkcrm_app.core.errors import DomainError, StepUpRequired
from pkcrm_app.live import hub
from pkcrm_app.live import sessions as live_sessions
from pkcrm_app.live.memo import LiveMemo
from pkcrm_app.live.state import LiveTab
from pkcrm_app.live.tokens import is_client_token
from pkcrm_app.ui import badges
from pkcrm_app.ui.browser import post_code_script

T = TypeVar("T")
# The header badges, read once per organisation and audience when alerts or reviews move (live/memo.py).
OPEN_ALERTS: LiveMemo[tuple[int, bool], int] = LiveMemo(lambda _count: {"alerts_rev": None})
REVIEW_OVERDUE: LiveMemo[tuple[int, bool], bool] = LiveMemo(lambda _overdue: {"alerts_rev": None})
STEP_UP_INPUT_ID = "step-up-code"  # the code field of the step-up dialog (components/step_up.py)


def _resolve(token: str | None) -> service.SessionInfo | None:
    with get_database().session() as db:
        return service.resolve_session(db, token)


def _bind(client_token: str, session_key: str) -> None:
    with get_database().session() as db:
        bind_tab(db, client_token, session_key)
        db.commit()


def cookie_token(cookie_header: str | None) -> str | None:
    """The session secret in a Cookie header (the websocket's, from when it connected)."""
    cookies = SimpleCookie()
    cookies.load(cookie_header or "")
    morsel = cookies.get(SESSION_COOKIE)
    return morsel.value if morsel else None


class SessionMixin(rx.State, mixin=True):
    """Who is signed in; the ids stay on the server (backend-only vars).

    A mixin, not a parent state: each page state carries these vars itself, so they travel with it
    when another worker refreshes the page state after a shared-state change.
    """

    user_name: str = ""
    org_name: str = ""
    role: str = ""
    signed_out: bool = False  # the session this tab was bound to ended: the page shows the notice
    _user_id: int = 0
    _org_id: int = 0
    _tz: str = "UTC"
    _session_key: str = ""  # stored id of the session this tab signed in with (a hash, never the cookie)
    _role: str = ""  # what permissions follow: `role` above is only shown, a client cannot move this one

    @rx.var
    def permissions(self) -> list[str]:
        """What the shown role may do: decides which links the navigation shows (services check again)."""
        return sorted(p.value for p in ROLE_PERMISSIONS[Role(self.role)]) if self.role else []

    @rx.var
    async def open_alerts(self) -> int:
        """Unacknowledged security alerts on the admins' bell, re-read whenever one is raised or acknowledged."""
        live = await self.get_state(LiveTab)
        _ = (live.alerts_rev, self._org_id)
        actor = await self._tab_actor()
        if actor is None:
            return 0
        key = (actor.org_id, badges.sees_alerts(actor))  # one read per organisation and audience, not per tab
        return await OPEN_ALERTS.read(key, hub.marks_of(actor.org_id), partial(badges.open_alerts, actor))

    @rx.var
    async def review_overdue(self) -> bool:
        """The admins' 'access review overdue' badge, re-read whenever a review moves."""
        live = await self.get_state(LiveTab)
        _ = (live.alerts_rev, self._org_id)
        actor = await self._tab_actor()
        if actor is None:
            return False
        key = (actor.org_id, actor.can(Permission.MEMBERS_MANAGE))
        return await REVIEW_OVERDUE.read(key, hub.marks_of(actor.org_id), partial(badges.review_overdue, actor))

    async def _active_actor(self) -> Actor | None:
        """The actor as the session stands now (role, step-up), counting this as activity; None once it ended."""
        info = await asyncio.to_thread(_resolve, self._cookie_token())
        return None if info is None else info.actor

    async def _tab_actor(self) -> Actor | None:
        """The actor this tab was signed in as, while that session lives (cached: pushes carry no cookie)."""
        if not self._org_id or not self._role or not await live_sessions.alive(self._session_key):
            return None
        return Actor(user_id=self._user_id, org_id=self._org_id, role=Role(self._role))

    def _acting(self) -> AbstractContextManager[None]:
        """Audit entries written by the work inside name this tab's IP address and browser."""
        return acting_from(self.router.session.client_ip or "", self.router.headers.user_agent or "")

    def _cookie_token(self) -> str | None:
        return cookie_token(self.router.headers.cookie)

    @rx.event
    async def require_login(self):  # type: ignore[no-untyped-def]
        """on_load of every private page: resolve the cookie, else go to the login page."""
        return await self._sign_in()

    async def _sign_in(self, needs: Permission | None = None) -> rx.event.EventSpec | None:
        """Resolve the cookie: no session goes to the login page, a missing `needs` back to the board."""
        token = self._cookie_token()
        info = await asyncio.to_thread(_resolve, token)
        client_token = self.router.session.client_token
        if info is None or not is_client_token(client_token):
            self.reset()  # type: ignore[no-untyped-call]
            return rx.redirect("/login")
        session_key = session_id_for(token)
        if session_key != self._session_key:
            await asyncio.to_thread(_bind, client_token, session_key)
        self.user_name, self.org_name, self.role = info.user_name, info.org_name, info.actor.role.value
        self._user_id, self._org_id, self._tz = info.actor.user_id or 0, info.actor.org_id, info.time_zone
        self._session_key, self._role, self.signed_out = session_key, info.actor.role.value, False
        live = await self.get_state(LiveTab)
        live._org_id = info.actor.org_id
        hub.join(client_token, info.actor.org_id)  # the organisation comes from the session, never the client
        if needs is not None and not info.actor.can(needs):
            return rx.redirect("/board")
        return None


class ActionPageMixin(SessionMixin, mixin=True):
    """A page whose buttons change something and report it in one notice line, then re-read the page.

    A sensitive action refused for want of a fresh second factor opens the step-up dialog; once the code
    is accepted (over an HTTP route, never this websocket) the action runs again by itself.
    """

    notice: str = ""
    step_up_open: bool = False
    step_up_message: str = ""
    step_up_error: str = ""
    _retry_event: str = ""
    _retry_args: list[str | int] = []  # noqa: RUF012 (Reflex state field)
    _pending_form: str = ""  # the form id a `save` posted, to post again after a step-up

    async def _reload(self) -> None:
        """What the page re-reads after an action; pages override it."""

    async def _open(self, needs: Permission | None = None) -> rx.event.EventSpec | None:
        """on_load of such a page: signed in (with `needs`), a clean notice line, the page read."""
        redirect = await self._sign_in(needs=needs)
        if redirect is not None:
            return redirect
        self.notice = ""
        await self._reload()
        return None

    async def _act(
        self, work: Callable[[Actor], T], done: Callable[[T], str], *, retry: tuple[str, list[str | int]] | None = None
    ) -> rx.event.EventSpec | None:
        """Re-check the session, run `work` off the event loop, say how it went, refresh the page.

        `retry` names this event and its arguments, so it can run again after a step-up."""
        actor = await self._active_actor()
        if actor is None:
            return rx.redirect("/login")
        try:
            with self._acting():
                self.notice = done(await asyncio.to_thread(work, actor))
        except StepUpRequired as exc:
            self._ask_step_up(str(exc), retry)
        except DomainError as exc:
            self.notice = str(exc)
        await self._reload()
        return None

    def _form_answered(self, answer: object) -> None:
        """The answer to a form the browser posted for `save`: a refusal for want of a fresh second factor
        opens the dialog (and saves again after it), any other refusal shows in the notice line."""
        if not isinstance(answer, dict) or answer.get("ok"):
            return
        if answer.get("step_up"):
            self._ask_step_up(str(answer.get("error") or ""), ("save", [self._pending_form]))
            return
        self.notice = str(answer.get("error") or "Not saved.")

    def _ask_step_up(self, message: str, retry: tuple[str, list[str | int]] | None) -> None:
        self.step_up_open, self.step_up_message, self.step_up_error = True, message, ""
        self._retry_event, self._retry_args = retry if retry else ("", [])

    @rx.event
    def close_step_up(self) -> None:
        self.step_up_open, self._retry_event, self._retry_args = False, "", []

    @rx.event
    def submit_step_up(self) -> rx.event.EventSpec:
        """The browser posts the typed code to /auth/step-up and hands the answer to `step_up_answered`."""
        return rx.call_script(post_code_script("/auth/step-up", STEP_UP_INPUT_ID),
                              callback=type(self).step_up_answered)

    @rx.event
    def step_up_answered(self, answer: dict[str, object]):  # type: ignore[no-untyped-def]
        if not isinstance(answer, dict) or not answer.get("ok"):
            error = answer.get("error") if isinstance(answer, dict) else None
            self.step_up_error = str(error or "That code was not accepted.")
            return None
        name, args = self._retry_event, list(self._retry_args)
        self.close_step_up()
        return getattr(type(self), name)(*args) if name else None
