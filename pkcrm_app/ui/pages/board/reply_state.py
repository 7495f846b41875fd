"""The reply box of the conversation pane: text, quick replies, files and templates, within the 24-hour rule.

A substate of the board, so it follows the selected lead; files go by browser fetch to /messages/media.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from functools import partial

import reflex as rx

from pkcrm_app.channels.whatsapp import templates
from pkcrm_app.core.authz import Actor
from pkcrm_app.core.db import get_database, utcnow
from pkcrm_app.core.errors import DomainError
from pkcrm_app.inbox.outbox import service as outbox
from pkcrm_app.live import hub
from pkcrm_app.live.memo import LiveMemo
from pkcrm_app.live.state import LiveTab
from pkcrm_app.ui.browser import upload_script
from pkcrm_app.ui.format import duration
from pkcrm_app.ui.pages.board.state import BoardState

UPLOAD_URL = "/messages/media"
FILE_FORM = "reply-file-form"


@dataclass
class TemplateOption:
    id: str = ""
    label: str = ""


@dataclass
class Composer:
    window_open: bool = False
    time_left: str = ""
    templates: list[TemplateOption] = field(default_factory=list)


def left_text(seconds: int) -> str:
    return f"{duration(seconds)} left to reply freely"


def _window(actor: Actor, lead_id: int) -> outbox.WindowView:
    with get_database().session() as db:
        return outbox.conversation_window(db, actor, lead_id)


def _template_options(actor: Actor) -> list[TemplateOption]:
    with get_database().session() as db:
        return [TemplateOption(str(t.id), f"{t.name} ({t.language})") for t in templates.list_templates(db, actor)]


# The window is read again when its conversation's messages change; the templates only when templates change.
WINDOWS: LiveMemo[tuple[Actor, int], outbox.WindowView] = LiveMemo(
    lambda window: {"messages_rev": None if window.conversation_id is None else (window.conversation_id,)})
TEMPLATE_OPTIONS: LiveMemo[Actor, list[TemplateOption]] = LiveMemo(lambda _options: {"templates_rev": None})


def _composer(window: outbox.WindowView, options: list[TemplateOption]) -> Composer:
    """The time left counted now, not when the window was read."""
    left = int((window.closes_at - utcnow()).total_seconds()) if window.closes_at is not None else 0
    return Composer(left > 0, left_text(left) if left > 0 else "", list(options))


def file_upload_script(lead_id: int) -> str:
    """POST the chosen file with the lead id; evaluates to the route's JSON answer."""
    return upload_script(UPLOAD_URL, FILE_FORM, missing="Choose a file to send first.", lead_id=lead_id)


class ReplyState(BoardState):
    reply_error: str = ""
    mode: str = "text"  # text | buttons | file

    @rx.var
    async def composer(self) -> Composer:
        """Recomputed when the open thread changed or templates changed; each part is read again only when it is
        concerned."""
        live = await self.get_state(LiveTab)
        _ = (live.templates_rev, self.selected_lead_id, self._thread_key)
        actor = (await self._tab_actor())
        if actor is None or not self.selected_lead_id:
            return Composer()
        lead_id = self.selected_lead_id
        try:
            window = await WINDOWS.read((actor, lead_id), hub.marks_of(actor.org_id), partial(_window, actor, lead_id))
            options = await TEMPLATE_OPTIONS.read(actor, hub.marks_of(actor.org_id), partial(_template_options, actor))
        except DomainError:
            return Composer()
        return _composer(window, options)

    async def _send(self, work) -> None:  # type: ignore[no-untyped-def]
        actor = await self._active_actor()
        if actor is None or not self.selected_lead_id:
            return
        lead_id = self.selected_lead_id

        def run() -> None:
            with get_database().session() as db:
                work(db, actor, lead_id)
        try:
            with self._acting():
                await asyncio.to_thread(run)
            self.reply_error = ""
        except DomainError as exc:
            self.reply_error = str(exc)

    @rx.event
    def set_mode(self, mode: str) -> None:
        self.mode, self.reply_error = mode, ""

    @rx.event
    async def send_text(self, form: dict[str, str]) -> None:
        text = str(form.get("text") or "")
        await self._send(lambda db, actor, lead: outbox.send_text(db, actor, lead, text))

    @rx.event
    async def send_buttons(self, form: dict[str, str]) -> None:
        text, titles = str(form.get("text") or ""), str(form.get("buttons") or "").split(",")
        await self._send(lambda db, actor, lead: outbox.send_buttons(db, actor, lead, text, titles))

    @rx.event
    async def send_template(self, form: dict[str, str]) -> None:
        chosen = str(form.get("template_id") or "")
        if not chosen.isdigit():
            self.reply_error = "Choose a template first."
            return
        await self._send(lambda db, actor, lead: outbox.send_template(db, actor, lead, int(chosen)))

    @rx.event
    def send_file(self, _form: dict[str, str]) -> rx.event.EventSpec | None:
        if not self.selected_lead_id:
            return None
        return rx.call_script(file_upload_script(self.selected_lead_id), callback=ReplyState.file_answered)

    @rx.event
    def file_answered(self, answer: dict[str, object]) -> None:
        ok = isinstance(answer, dict) and answer.get("ok")
        self.reply_error = "" if ok else str(answer.get("error") if isinstance(answer, dict) else "Not sent.")

    @rx.event
    async def resend(self, message_id: int) -> None:
        await self._send(lambda db, actor, lead: outbox.resend(db, actor, lead, int(message_id)))
