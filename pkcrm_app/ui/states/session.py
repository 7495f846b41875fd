"""The signed-in user of a tab, read from the HttpOnly session cookie on every page load."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import TypeVar

import reflex as rx

from pkcrm_app.accounts import service
from pkcrm_app.accounts.permissions import ROLE_PERMISSIONS, Actor, Permission, Role
from pkcrm_app.core.db import get_database
from pkcrm_app.core.errors import DomainError
from pkcrm_app.live.state import OrgLive, link_token
from pkcrm_app.routes.auth import SESSION_COOKIE

T = TypeVar("T")


def _resolve(token: str | None) -> service.SessionInfo | None:
    with get_database().session() as db:
        return service.resolve_session(db, token)


def _is_live(token: str | None) -> bool:
    with get_database().session() as db:
        return service.session_is_live(db, token)


class SessionMixin(rx.State, mixin=True):
    """Who is signed in; the ids stay on the server (backend-only vars).

    A mixin, not a parent state: each page state carries these vars itself, so they travel with it
    when another worker refreshes the page state after a shared-state change.
    """

    user_name: str = ""
    org_name: str = ""
    role: str = ""
    _user_id: int = 0
    _org_id: int = 0
    _tz: str = "UTC"

    @rx.var
    def can_audit(self) -> bool:
        return bool(self.role) and Permission.AUDIT_VIEW in ROLE_PERMISSIONS[Role(self.role)]

    @rx.var
    def can_manage_members(self) -> bool:
        return bool(self.role) and Permission.MEMBERS_MANAGE in ROLE_PERMISSIONS[Role(self.role)]

    @rx.var
    async def session_ended(self) -> bool:
        """Re-checked whenever any session of the organisation ends, so a revoked tab signs out live."""
        live = await self.get_state(OrgLive)
        _ = live.sessions_rev
        if not self._org_id:
            return False
        return not await asyncio.to_thread(_is_live, self._cookie_token())

    async def _active_actor(self) -> Actor | None:
        """The actor, after checking the session still stands (and counting this as activity)."""
        info = await asyncio.to_thread(_resolve, self._cookie_token())
        return None if info is None else self.actor()

    def actor(self) -> Actor | None:
        if not self._org_id or not self.role:
            return None
        return Actor(user_id=self._user_id, org_id=self._org_id, role=Role(self.role))

    def _cookie_token(self) -> str | None:
        cookies = SimpleCookie()
        cookies.load(self.router.headers.cookie or "")
        morsel = cookies.get(SESSION_COOKIE)
        return morsel.value if morsel else None

    @rx.event
    async def require_login(self):  # type: ignore[no-untyped-def]
        """on_load of every private page: resolve the cookie, else go to the login page."""
        return await self._sign_in()

    async def _sign_in(self, needs: Permission | None = None) -> rx.event.EventSpec | None:
        """Resolve the cookie: no session goes to the login page, a missing `needs` back to the board."""
        info = await asyncio.to_thread(_resolve, self._cookie_token())
        if info is None:
            self.user_name = self.org_name = self.role = ""
            self._user_id = self._org_id = 0
            return rx.redirect("/login")
        self.user_name, self.org_name, self.role = info.user_name, info.org_name, info.actor.role.value
        self._user_id, self._org_id = info.actor.user_id or 0, info.actor.org_id
        live = await self.get_state(OrgLive)
        await live._link_to(link_token(info.actor.org_id))
        if needs is not None and not info.actor.can(needs):
            return rx.redirect("/board")
        return None


class ActionPageMixin(SessionMixin, mixin=True):
    """A page whose buttons change something and report it in one notice line, then re-read the page."""

    notice: str = ""

    async def _reload(self) -> None:
        """What the page re-reads after an action; pages override it."""

    async def _act(self, work: Callable[[Actor], T], done: Callable[[T], str]) -> rx.event.EventSpec | None:
        """Re-check the session, run `work` off the event loop, say how it went, refresh the page."""
        actor = await self._active_actor()
        if actor is None:
            return rx.redirect("/login")
        try:
            self.notice = done(await asyncio.to_thread(work, actor))
        except DomainError as exc:
            self.notice = str(exc)
        await self._reload()
        return None
