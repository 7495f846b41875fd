"""Single sign-on screens: the organisation's settings (owners change them, admins read them and test
discovery) and, on the profile, a member's own link and an owner's opt-in.

Forms with secrets (the client secret, the password confirming a link) are posted by the browser to HTTP
routes, never this websocket; a save refused for want of a fresh second factor opens the step-up dialog and
is posted again once the code passed.
"""

from __future__ import annotations

import asyncio
import secrets

import reflex as rx

from pkcrm_app.accounts.identity import outcomes
from pkcrm_app.accounts.identity.sso import links
from pkcrm_app.accounts.identity.sso import service as sso
from pkcrm_app.core.authz import Actor, Permission
from pkcrm_app.core.db import get_database
from pkcrm_app.flows import sso as sso_flow
from pkcrm_app.ui.browser import post_form_script
from pkcrm_app.ui.format import short_time
from pkcrm_app.ui.session import ActionPageMixin

SAVE_URL = "/settings/sso/save"
FORMS = ("sso-settings-form", "sso-disable-form")  # the only forms the save event posts
DONE = {"saved": "Single sign-on settings saved. Every owner was emailed about the change.",
        "disabled": "Single sign-on is switched off. Every owner was emailed about the change."}
LINK_OUTCOMES = {
    "linked": "Single sign-on is linked: it can sign you in from now on.",
    "password": "That password is not right (or there were too many tries). Type the password you sign in with.",
    "failed": "Single sign-on could not be linked. Try again, or ask an owner to check the organisation's "
              "single sign-on settings.",
    "taken": "That single sign-on account is already linked to another member.",
    "session": "Finish linking in the browser and session that started it: start again from this page.",
}


def _load(actor: Actor) -> sso.SsoSettings:
    with get_database().session() as db:
        return sso.get_settings(db, actor)


def _check(actor: Actor) -> str:
    return sso_flow.check_discovery(get_database(), actor)


def _my_link(actor: Actor) -> links.LinkView:
    with get_database().session() as db:
        return links.my_link(db, actor)


def _owner_sign_in(actor: Actor, allowed: bool) -> bool:
    with get_database().session() as db:
        return sso.set_owner_sign_in(db, actor, allowed=allowed)


class SsoState(ActionPageMixin, rx.State):
    issuer: str = ""
    client_id: str = ""
    secret_set: bool = False
    enabled: bool = False
    can_change: bool = False  # owners; admins see the settings read-only
    redirect_uri: str = ""
    form_key: str = ""  # changes after each load so the uncontrolled form shows the stored values

    @rx.event
    async def open_page(self):  # type: ignore[no-untyped-def]
        redirect = await self._sign_in(needs=Permission.INTEGRATIONS_MANAGE)
        if redirect is not None:
            return redirect
        query = self.router.url.query_parameters
        self.notice = DONE.get(query.get("done", ""), "") or outcomes.message_for(query.get("error", ""))
        self.redirect_uri = self.router.url.origin + sso.CALLBACK_PATH
        await self._reload()
        return None

    async def _reload(self) -> None:
        actor = await self._active_actor()
        if actor is None:
            return
        found = await asyncio.to_thread(_load, actor)
        self.issuer, self.client_id = found.issuer, found.client_id
        self.secret_set, self.enabled = found.secret_set, found.enabled
        self.can_change = actor.can(Permission.SSO_MANAGE)
        self.form_key = secrets.token_hex(4)

    @rx.event
    def save(self, form_id: str) -> rx.event.EventSpec | None:
        """The browser posts the form (settings or switch-off) and hands the answer to `save_answered`."""
        if form_id not in FORMS:
            return None
        self._pending_form = form_id
        return rx.call_script(post_form_script(SAVE_URL, form_id), callback=SsoState.save_answered)

    @rx.event
    def save_answered(self, answer: dict[str, object]) -> None:
        self._form_answered(answer)

    @rx.event
    async def test_discovery(self):  # type: ignore[no-untyped-def]
        return await self._act(_check, lambda said: said)


class SsoLinkState(ActionPageMixin, rx.State):
    """The profile's single sign-on card: link one's provider account; owners opt in to being signed in by it."""

    available: bool = False
    linked: bool = False
    issuer: str = ""
    linked_on: str = ""
    is_owner: bool = False
    owner_sign_in: bool = False

    @rx.event
    async def load(self):  # type: ignore[no-untyped-def]
        """on_mount of the card: signed in, the outcome of a link that just came back, the member's link."""
        redirect = await self._sign_in()
        if redirect is not None:
            return redirect
        self.notice = LINK_OUTCOMES.get(self.router.url.query_parameters.get("sso", ""), "")
        await self._reload()
        return None

    async def _reload(self) -> None:
        actor = await self._active_actor()
        if actor is None:
            return
        view = await asyncio.to_thread(_my_link, actor)
        self.available, self.linked, self.issuer = view.available, view.linked, view.issuer
        self.linked_on = short_time(view.linked_at, self._tz)
        self.is_owner, self.owner_sign_in = view.is_owner, view.owner_sign_in

    @rx.event
    async def set_owner_sign_in(self, allowed: bool):  # type: ignore[no-untyped-def]
        return await self._act(
            lambda actor: _owner_sign_in(actor, bool(allowed)),
            lambda now: "Single sign-on may sign you in. Every owner was emailed." if now
            else "Single sign-on no longer signs you in. Every owner was emailed.",
            retry=("set_owner_sign_in", [bool(allowed)]))
