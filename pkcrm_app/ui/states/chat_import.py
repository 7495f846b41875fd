"""The /import page: upload a WhatsApp chat export, then watch its job (a live progress bar) and its outcome."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import reflex as rx

from pkcrm_app.accounts.permissions import Actor, Permission
from pkcrm_app.core.db import get_database
from pkcrm_app.core.errors import DomainError
from pkcrm_app.live.state import OrgLive
from pkcrm_app.ui.states.session import SessionMixin
from pkcrm_app.ui.states.views import short_time
from pkcrm_app.whatsapp.chat_import import recent_jobs
from pkcrm_app.whatsapp.import_models import ImportState

FORM_ID = "import-form"
STATE_WORDS = {ImportState.QUEUED: "Waiting", ImportState.RUNNING: "Importing", ImportState.DONE: "Done",
               ImportState.FAILED: "Failed"}


@dataclass
class JobLine:
    job_id: int = 0
    filename: str = ""
    state: str = ""
    words: str = ""
    percent: int = 0
    progress: str = ""
    result: str = ""
    authors: str = ""
    error: str = ""
    when: str = ""
    lead_id: int = 0


def _authors(found: object) -> str:
    if not isinstance(found, dict):
        return ""
    team = sorted(a for a, role in found.items() if str(role).startswith("member:"))
    customer = sorted(a for a, role in found.items() if role == "contact")
    parts = [f"team: {', '.join(team)}" if team else "", f"customer: {', '.join(customer)}" if customer else ""]
    return " · ".join(p for p in parts if p)


def _jobs(actor: Actor, tz: str) -> list[JobLine]:
    with get_database().session() as db:
        found = recent_jobs(db, actor)
        lines = []
        for job in found:
            percent = min(100, round(100 * job.processed / job.total)) if job.total else 0
            if job.state == ImportState.DONE:
                percent = 100
            result = (f"{job.imported} messages imported, {job.duplicates} already there"
                      + (f", {job.media_stored} files" if job.media_stored else ""))
            progress = f"{job.processed} of {job.total} messages" if job.total else "Checking the file…"
            lines.append(JobLine(
                job_id=job.id, filename=job.filename, state=job.state.value, words=STATE_WORDS[job.state],
                percent=percent, progress=progress,
                result=result, authors=_authors(job.authors), error=job.error, when=short_time(job.created_at, tz),
                lead_id=job.lead_id or 0))
    return lines


def upload_script() -> str:
    """The browser posts the chosen file (never through the websocket) and hands the JSON answer back."""
    return (
        "(async () => { const f = document.getElementById(" + json.dumps(FORM_ID) + ");"
        " if (!f || !f.file.files.length) { return {error: 'Choose a WhatsApp export (.txt or .zip) first.'}; }"
        " const r = await fetch('/import/upload', {method: 'POST', credentials: 'same-origin',"
        " headers: {'Accept': 'application/json'}, body: new FormData(f)});"
        " const d = await r.json().catch(() => ({error: `The upload failed (${r.status}).`}));"
        " if (d.next && !d.error) { f.reset(); } return d; })()"
    )


class ChatImportState(SessionMixin, rx.State):
    uploading: bool = False
    upload_message: str = ""

    @rx.event
    async def open_page(self):  # type: ignore[no-untyped-def]
        self.upload_message = ""
        return await self._sign_in(Permission.CONVERSATION_VIEW)

    @rx.var
    async def jobs(self) -> list[JobLine]:
        """Re-read whenever an import of this organisation moves (the shared `imports_rev` counter)."""
        live = await self.get_state(OrgLive)
        _ = (live.imports_rev, self._org_id)
        actor = (await self._tab_actor())
        if actor is None:
            return []
        try:
            return await asyncio.to_thread(_jobs, actor, self._tz)
        except DomainError:
            return []

    @rx.event
    def upload(self) -> rx.event.EventSpec:
        self.uploading, self.upload_message = True, ""
        return rx.call_script(upload_script(), callback=ChatImportState.uploaded)

    @rx.event
    def uploaded(self, answer: dict[str, object]) -> None:
        self.uploading = False
        if not isinstance(answer, dict) or answer.get("error") or not answer.get("next"):
            error = answer.get("error") if isinstance(answer, dict) else None
            self.upload_message = str(error or "The upload failed. Try again.")
        else:
            self.upload_message = "Uploaded. The import runs in the background; you may leave this page."
