"""The admin's single sign-on screen: what is configured (never the secret) and a discovery check."""

from __future__ import annotations

import asyncio
import secrets

import reflex as rx

from pkcrm_app.accounts.permissions import Actor, Permission
from pkcrm_app.accounts.sso import service as sso
from pkcrm_app.core.db import get_database
from pkcrm_app.ui.states.session import ActionPageMixin

DONE = {"saved": "Single sign-on settings saved.", "disabled": "Single sign-on is switched off."}


def _load(actor: Actor) -> sso.SsoSettings:
    with get_database().session() as db:
        return sso.get_settings(db, actor)


def _check(actor: Actor) -> str:
    with get_database().session() as db:
        return sso.check_discovery(db, actor)


class SsoState(ActionPageMixin, rx.State):
    issuer: str = ""
    client_id: str = ""
    secret_set: bool = False
    enabled: bool = False
    redirect_uri: str = ""
    form_key: str = ""  # changes after each load so the uncontrolled form shows the stored values

    @rx.event
    async def open_page(self):  # type: ignore[no-untyped-def]
        redirect = await self._sign_in(needs=Permission.INTEGRATIONS_MANAGE)
        if redirect is not None:
            return redirect
        query = self.router.url.query_parameters
        self.notice = DONE.get(query.get("done", ""), "") or query.get("error", "")[:300]
        self.redirect_uri = self.router.url.origin + sso.CALLBACK_PATH
        await self._reload()
        return None

    async def _reload(self) -> None:
        actor = (await self._tab_actor())
        if actor is None:
            return
        found = await asyncio.to_thread(_load, actor)
        self.issuer, self.client_id = found.issuer, found.client_id
        self.secret_set, self.enabled = found.secret_set, found.enabled
        self.form_key = secrets.token_hex(4)

    @rx.event
    async def test_discovery(self):  # type: ignore[no-untyped-def]
        return await self._act(_check, lambda said: said)
