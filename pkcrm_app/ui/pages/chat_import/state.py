"""The /import page: upload a WhatsApp chat export, then watch its job (a live progress bar) and its outcome."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from functools import partial

import reflex as rx

from pkcrm_app.core.authz import Actor, Permission
from pkcrm_app.core.db import get_database
from pkcrm_app.core.errors import DomainError
from pkcrm_app.imports.importer import (
    confirm_authors,
    proposed_members,
    recent_jobs,
    run_in_background,
    team_names,
)
from pkcrm_app.imports.models import ImportState
from pkcrm_app.imports.people import proposal_key
from pkcrm_app.live import hub
from pkcrm_app.live.memo import LiveMemo
from pkcrm_app.live.state import LiveTab
from pkcrm_app.ui.browser import upload_script
from pkcrm_app.ui.format import short_time
from pkcrm_app.ui.session import SessionMixin

FORM_ID = "import-form"
STATE_WORDS = {ImportState.QUEUED: "Waiting", ImportState.RUNNING: "Importing", ImportState.DONE: "Done",
               ImportState.FAILED: "Failed", ImportState.REVIEW: "Who is who?"}


@dataclass
class ProposalLine:
    """One author the import proposes as a team member; the importer's checkbox (unticked by default)."""

    key: str = ""
    author: str = ""
    member: str = ""


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
    proposals: list[ProposalLine] = field(default_factory=list)
    mine: bool = False  # this viewer uploaded it (only they confirm its authors)


def _authors(found: object) -> str:
    if not isinstance(found, dict) or proposed_members(found):
        return ""  # still waiting for the importer's choices
    team = sorted(a for a, role in found.items() if str(role).startswith("member:"))
    customer = sorted(a for a, role in found.items() if role == "contact")
    parts = [f"team: {', '.join(team)}" if team else "", f"customer: {', '.join(customer)}" if customer else ""]
    return " · ".join(p for p in parts if p)


# The import jobs a member sees, read once per member and time zone when imports move (live/memo.py).
JOBS: LiveMemo[tuple[Actor, str], list[JobLine]] = LiveMemo(lambda _jobs: {"imports_rev": None})


def _jobs(actor: Actor, tz: str) -> list[JobLine]:
    with get_database().session() as db:
        found = recent_jobs(db, actor)
        names = team_names(db, actor, {uid for job in found for uid in proposed_members(job.authors).values()})
        lines = []
        for job in found:
            proposals = [ProposalLine(proposal_key(author), author, names.get(uid, "a team member"))
                         for author, uid in sorted(proposed_members(job.authors).items())]
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
                lead_id=job.lead_id or 0, proposals=proposals, mine=job.created_by_user_id == actor.user_id))
    return lines


def export_upload_script() -> str:
    """The browser posts the chosen file (never through the websocket) and hands the JSON answer back."""
    return upload_script("/import/upload", FORM_ID, missing="Choose a WhatsApp export (.txt or .zip) first.",
                         fallback="({error: `The upload failed (${r.status}).`})")


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
        live = await self.get_state(LiveTab)
        _ = (live.imports_rev, self._org_id)
        actor = (await self._tab_actor())
        if actor is None:
            return []
        try:
            return await JOBS.read((actor, self._tz), hub.marks_of(actor.org_id), partial(_jobs, actor, self._tz))
        except DomainError:
            return []

    @rx.event
    def upload(self) -> rx.event.EventSpec:
        self.uploading, self.upload_message = True, ""
        return rx.call_script(export_upload_script(), callback=ChatImportState.uploaded)

    @rx.event
    def uploaded(self, answer: dict[str, object]) -> None:
        self.uploading = False
        if not isinstance(answer, dict) or answer.get("error") or not answer.get("next"):
            error = answer.get("error") if isinstance(answer, dict) else None
            self.upload_message = str(error or "The upload failed. Try again.")
        else:
            self.upload_message = "Uploaded. The import runs in the background; you may leave this page."

    @rx.event
    async def confirm_authors(self, form: dict[str, str]):  # type: ignore[no-untyped-def]
        """The importer's ticks: only ticked authors become team members; then the import runs."""
        actor = await self._active_actor()
        if actor is None:
            return rx.redirect("/login")
        job_id = str(form.get("job") or "")
        if not job_id.isdigit():
            return None
        ticked = {key for key, value in form.items() if key.startswith("author-") and value}

        def work() -> int:
            database = get_database()
            with database.session() as db:
                job = confirm_authors(db, actor, int(job_id), accepted_keys=ticked)
                queued = job.id
            run_in_background(database, queued)
            return queued

        try:
            with self._acting():
                await asyncio.to_thread(work)
        except DomainError as exc:
            self.upload_message = str(exc)
        return None
