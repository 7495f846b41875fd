"""The admin's WhatsApp connection screen: numbers (secrets only as their last characters), tests, templates.

Forms with secrets are posted by the browser to /settings/whatsapp/save (never this websocket); a refusal for
want of a fresh second factor opens the step-up dialog, and the same form is posted again once it passed.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

import reflex as rx

from pkcrm_app.channels.whatsapp import connection, templates
from pkcrm_app.core.authz import Actor, Permission
from pkcrm_app.core.db import get_database
from pkcrm_app.settings import get_settings
from pkcrm_app.ui.browser import post_form_script
from pkcrm_app.ui.session import ActionPageMixin

SAVE_URL = "/settings/whatsapp/save"
FORM_ID = re.compile(r"wa-number-(?:new|\d{1,10})")
META_GRAPH_HOST = "graph.facebook.com"


@dataclass
class NumberRow:
    id: int = 0
    phone_number_id: str = ""
    display_phone_number: str = ""
    business_account_id: str = ""
    access_token: str = ""
    app_secret: str = ""
    verify_token: str = ""
    messages_per_second: str = ""


@dataclass
class TemplateRow:
    name: str = ""
    language: str = ""
    category: str = ""
    source: str = ""
    body: str = ""


def _load(actor: Actor) -> tuple[list[NumberRow], list[TemplateRow]]:
    with get_database().session() as db:
        numbers = [NumberRow(n.id, n.phone_number_id, n.display_phone_number, n.business_account_id,
                             n.access_token_hint or "not set", n.app_secret_hint or "not set",
                             n.verify_token_hint or "not set", str(n.messages_per_second or ""))
                   for n in connection.list_numbers(db, actor)]
        rows = [TemplateRow(t.name, t.language, t.category, t.source, t.body)
                for t in templates.list_templates(db, actor)]
    return numbers, rows


def cloud_api_label(base: str, version: str) -> str:
    """What admins are told about the Cloud API the server uses: Meta's by name, any other only as "set by the
    operator" (its address is the server's business, and may be an internal host)."""
    if urlsplit(base).hostname == META_GRAPH_HOST:
        return f"Meta WhatsApp Cloud API {version}"
    return f"WhatsApp Cloud API {version} (an endpoint set by this server's operator)"


class WhatsAppState(ActionPageMixin, rx.State):
    numbers: list[NumberRow] = []  # noqa: RUF012 (Reflex state field)
    templates: list[TemplateRow] = []  # noqa: RUF012
    api_base: str = ""
    webhook_url: str = ""
    form_key: str = ""

    @rx.event
    async def open_page(self):  # type: ignore[no-untyped-def]
        redirect = await self._sign_in(needs=Permission.INTEGRATIONS_MANAGE)
        if redirect is not None:
            return redirect
        query = self.router.url.query_parameters
        self.notice = "WhatsApp number saved." if query.get("done") == "saved" else ""
        settings = get_settings()
        self.api_base = cloud_api_label(settings.whatsapp_api_base, settings.whatsapp_api_version)
        self.webhook_url = self.router.url.origin + "/webhooks/whatsapp"
        await self._reload()
        return None

    async def _reload(self) -> None:
        actor = (await self._tab_actor())
        if actor is None:
            return
        self.numbers, self.templates = await asyncio.to_thread(_load, actor)
        self.form_key = secrets.token_hex(4)

    @rx.event
    def save(self, form_id: str) -> rx.event.EventSpec | None:
        if not FORM_ID.fullmatch(str(form_id)):
            return None  # only this page's own forms are posted
        self._pending_form = form_id
        return rx.call_script(post_form_script(SAVE_URL, form_id), callback=WhatsAppState.save_answered)

    @rx.event
    def save_answered(self, answer: dict[str, object]) -> None:
        self._form_answered(answer)

    @rx.event
    async def test_connection(self, number_id: int):  # type: ignore[no-untyped-def]
        def work(actor: Actor) -> str:
            with get_database().session() as db:
                return connection.check_connection(db, actor, int(number_id))
        return await self._act(work, lambda said: said)

    @rx.event
    async def sync_templates(self, number_id: int):  # type: ignore[no-untyped-def]
        def work(actor: Actor) -> int:
            with get_database().session() as db:
                return templates.sync_templates(db, actor, int(number_id))
        return await self._act(work, lambda count: f"{count} templates read from WhatsApp.")
