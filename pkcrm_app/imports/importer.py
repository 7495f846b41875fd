"""Importing a WhatsApp chat export as a background job, into the customer's conversation.

All or nothing per file, while streaming: the first pass (`ExportFile.scan`, plus reading every media file of
a zip) reads the whole upload and fails on anything corrupt or unrecognised BEFORE a single row is written;
only then does the second pass stream the messages into the database, in batches of BATCH, each batch its own
short transaction (so SQLite stays writable for webhooks and the progress bar moves). Every imported message
has a deterministic id (organisation, contact, timestamp, author, text, occurrence), so a batch repeated after
a crash, or the same file imported again, adds nothing. The jobs are a queue of the job runner (jobs/): a
claimed job holds a lease its heartbeat keeps alive, so one cut short by a restart is claimed again and resumed.
Imported messages never count as unread nor open the 24-hour window (they did not reach the business number).

Authors whose names read like team members' are only proposed: the job stops in REVIEW after the first pass,
the importer ticks the proposals that are right (`confirm_authors`), and only ticked authors' messages are
attributed to members; everyone else writes as the customer.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity.models import Membership, Organisation, User
from pkcrm_app.audit.service import record
from pkcrm_app.core.authz import Actor, Permission
from pkcrm_app.core.db import Database, utcnow
from pkcrm_app.core.errors import DomainError, InvalidInput, NotFound
from pkcrm_app.core.events import ImportsChanged, LeadsChanged, MessagesChanged, emit_on_commit
from pkcrm_app.imports import spool
from pkcrm_app.imports.chat_export import (
    ChatMessage,
    ExportFile,
    ExportFormatError,
    Kind,
    phone_digits,
)
from pkcrm_app.imports.models import ChatImportJob, ImportState
from pkcrm_app.imports.people import cast_for, proposal_key, propose_members
from pkcrm_app.imports.rows import ImportRun, message_id, message_row, store_media
from pkcrm_app.inbox.inbound import NewestMessage, note_messages
from pkcrm_app.inbox.models import Conversation, Message
from pkcrm_app.inbox.service import render_text
from pkcrm_app.jobs.kinds import JobKind, worker_name
from pkcrm_app.jobs.lease import LeaseQueue, claim, release
from pkcrm_app.jobs.runner import nudge
from pkcrm_app.storage.store import blob_store

log = logging.getLogger(__name__)
BATCH = 500
LEASE = timedelta(minutes=2)  # a running job whose heartbeat stopped this long ago lost its worker
RECENT_KEYS = 4096  # identical (time, author, text) messages remembered to number their occurrences
KIND = "imports.chat_import"


def _ready(_due_by: datetime) -> ColumnElement[bool]:
    return ChatImportJob.state.in_([ImportState.QUEUED, ImportState.RUNNING])


def _claimed(now: datetime) -> Mapping[str, Any]:
    return {"state": ImportState.RUNNING, "started_at": now, "heartbeat_at": now, "error": ""}


# Queued jobs, and running ones whose worker died (their lease ran out); one in review waits for the importer.
IMPORT_QUEUE = LeaseQueue(model=ChatImportJob, ready=_ready, order=("created_at", "id"), on_claim=_claimed,
                          counts_attempts=False)


def start_import(db: Session, actor: Actor, *, spool_path: Path | str, filename: str, size: int,
                 contact_phone: str = "", my_name: str = "", ip_address: str = "", device: str = "") -> ChatImportJob:
    """Queue the import of an uploaded export (already spooled: its key, see spool.py); after the commit the
    caller calls `run_in_background`."""
    actor.require(Permission.CONVERSATION_VIEW)
    if contact_phone.strip() and phone_digits(contact_phone) is None:
        raise InvalidInput("the customer's phone number should have 7 to 15 digits")
    job = ChatImportJob(org_id=actor.org_id, created_by_user_id=actor.user_id, filename=filename[:255] or "chat.txt",
                        spool_path=str(spool_path), size_bytes=size, contact_phone=contact_phone.strip() or None,
                        my_name=my_name.strip()[:200] or None, state=ImportState.QUEUED, total=0, processed=0,
                        imported=0, duplicates=0, media_stored=0, error="", created_at=utcnow())
    db.add(job)
    db.flush()
    record(db, action="chat_import.queued", org_id=actor.org_id, actor_user_id=actor.user_id,
           target_type="chat_import_job", target_id=job.id, details={"bytes": size},
           ip_address=ip_address, device=device)
    emit_on_commit(db, ImportsChanged(org_id=actor.org_id, job_id=job.id))
    return job


def recent_jobs(db: Session, actor: Actor, *, limit: int = 10) -> list[ChatImportJob]:
    """The organisation's latest imports; agents see only their own."""
    actor.require(Permission.CONVERSATION_VIEW)
    query = select(ChatImportJob).where(ChatImportJob.org_id == actor.org_id)
    if not actor.can(Permission.LEADS_VIEW_ALL):
        query = query.where(ChatImportJob.created_by_user_id == actor.user_id)
    return list(db.scalars(query.order_by(ChatImportJob.created_at.desc(), ChatImportJob.id.desc()).limit(limit)))


def proposed_members(authors: object) -> dict[str, int]:
    """The proposals a job in REVIEW waits on: author -> user id."""
    if not isinstance(authors, dict):
        return {}
    return {a: int(r.split(":", 1)[1]) for a, r in authors.items()
            if isinstance(r, str) and r.startswith("proposed:") and r.split(":", 1)[1].isdigit()}


def team_names(db: Session, actor: Actor, user_ids: Collection[int]) -> dict[int, str]:
    """The names of the organisation's members among `user_ids` (whom a proposal says an author is)."""
    actor.require(Permission.CONVERSATION_VIEW)
    if not user_ids:
        return {}
    rows = db.execute(select(User.id, User.name).join(Membership, Membership.user_id == User.id)
                      .where(Membership.org_id == actor.org_id, User.id.in_(sorted(user_ids))))
    return {user_id: name for user_id, name in rows}


def _confirmed_members(authors: object) -> dict[str, int] | None:
    """The importer's choices (author -> user id), or None while no choice was made (no matching run yet)."""
    if not isinstance(authors, dict) or proposed_members(authors):
        return None
    return {a: int(r.split(":", 1)[1]) for a, r in authors.items()
            if isinstance(r, str) and r.startswith("member:") and r.split(":", 1)[1].isdigit()}


def confirm_authors(db: Session, actor: Actor, job_id: int, *, accepted_keys: Collection[str]) -> ChatImportJob:
    """The importer's ticks on an import waiting in REVIEW: the ticked proposals (by `proposal_key`) become team
    members, every other author the customer; the job is queued again (the caller runs it after commit)."""
    actor.require(Permission.CONVERSATION_VIEW)
    job = db.scalar(select(ChatImportJob).where(ChatImportJob.id == job_id, ChatImportJob.org_id == actor.org_id,
                                                ChatImportJob.created_by_user_id == actor.user_id))
    if job is None:
        raise NotFound("no such import of yours")
    if job.state != ImportState.REVIEW:
        raise InvalidInput("this import is not waiting for your choices")
    accepted = set(accepted_keys)
    proposals = proposed_members(job.authors)
    job.authors = {author: (f"member:{proposals[author]}" if author in proposals and proposal_key(author) in accepted
                            else "contact" if author in proposals else role)
                   for author, role in dict(job.authors or {}).items()}
    job.state = ImportState.QUEUED
    matched = sum(1 for role in job.authors.values() if role.startswith("member:"))
    record(db, action="chat_import.authors_confirmed", org_id=actor.org_id, actor_user_id=actor.user_id,
           target_type="chat_import_job", target_id=job.id, details={"proposed": len(proposals), "matched": matched})
    emit_on_commit(db, ImportsChanged(org_id=actor.org_id, job_id=job.id))
    return job


def _actor_of(db: Session, job: ChatImportJob) -> Actor:
    membership = db.scalar(select(Membership).where(Membership.org_id == job.org_id,
                                                    Membership.user_id == job.created_by_user_id,
                                                    Membership.is_active.is_(True)))
    if membership is None:
        raise InvalidInput("the member who uploaded the file is no longer in the organisation")
    actor = Actor(user_id=membership.user_id, org_id=job.org_id, role=membership.role)
    actor.require(Permission.CONVERSATION_VIEW)
    return actor


def _zone(db: Session, org_id: int) -> ZoneInfo | None:
    name = db.scalar(select(Organisation.time_zone).where(Organisation.id == org_id)) or "UTC"
    try:
        return None if name == "UTC" else ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _finish(database: Database, job_id: int, *, error: str = "", run: ImportRun | None = None) -> None:
    with database.session() as db:
        job = db.get_one(ChatImportJob, job_id)
        job.state = ImportState.FAILED if error else ImportState.DONE
        job.error, job.finished_at, job.heartbeat_at = error[:500], utcnow(), utcnow()
        org_id, path, job.spool_path = job.org_id, job.spool_path, ""
        record(db, action="chat_import.failed" if error else "chat_import.finished", org_id=job.org_id,
               actor_user_id=job.created_by_user_id, target_type="chat_import_job", target_id=job.id,
               details={"imported": job.imported, "duplicates": job.duplicates, "error": error[:200]})
        emit_on_commit(db, ImportsChanged(org_id=job.org_id, job_id=job.id))
        if run is not None:
            emit_on_commit(db, MessagesChanged(org_id=job.org_id, conversation_ids=(run.cast.conversation_id,)))
            emit_on_commit(db, LeadsChanged(org_id=job.org_id, lead_ids=(run.cast.lead_id,)))
    spool.discard(database, org_id, path)


def _prepare(database: Database, job_id: int, path: Path) -> ImportRun | None:
    """First pass and matching: the whole file is checked before anything of it is stored. None when the job now
    waits for the importer to confirm proposed team members (REVIEW)."""
    with database.session() as db:
        job = db.get_one(ChatImportJob, job_id)
        actor = _actor_of(db, job)
        export = ExportFile(path, job.filename)
        try:
            fmt = export.scan()
            media = export.media_names()
            export.check_media(media)
            if not any(fmt.authors.values()):
                raise ExportFormatError("the chat holds no message written by anyone")
            members = _confirmed_members(job.authors)
            if members is None:
                proposed = propose_members(db, actor, authors=fmt.authors, my_name=job.my_name)
                if proposed:
                    export.close()
                    job.state, job.total, job.heartbeat_at = ImportState.REVIEW, fmt.headers, utcnow()
                    job.authors = {a: f"proposed:{proposed[a]}" if a in proposed else "contact" for a in fmt.authors}
                    emit_on_commit(db, ImportsChanged(org_id=job.org_id, job_id=job.id))
                    return None
                members = {}
            cast = cast_for(db, actor, authors=fmt.authors, title=export.title, chosen_phone=job.contact_phone,
                            members=members)
        except BaseException:
            export.close()
            raise
        job.total, job.contact_id, job.lead_id, job.authors = fmt.headers, cast.contact_id, cast.lead_id, cast.summary()
        emit_on_commit(db, ImportsChanged(org_id=job.org_id, job_id=job.id))
        if cast.created_lead:
            emit_on_commit(db, LeadsChanged(org_id=job.org_id, lead_ids=(cast.lead_id,)))
        return ImportRun(job_id=job.id, org_id=job.org_id, export=export, fmt=fmt, cast=cast,
                         zone=_zone(db, job.org_id), media=media, prior=job.imported)


def _store_batch(database: Database, run: ImportRun, batch: list[tuple[str, ChatMessage]], seen: int) -> None:
    """Store a batch; when another import of the same chat stored some of its messages meanwhile (a unique id
    taken), the batch is read again and only what is still missing is stored."""
    for attempt in range(1, 4):
        counters = (run.duplicates, run.imported, run.media_stored, run.newest)
        try:
            _store_batch_once(database, run, batch, seen)
            return
        except IntegrityError:
            run.duplicates, run.imported, run.media_stored, run.newest = counters
            if attempt == 3:
                raise
            log.info("chat import %s raced another import of the same messages; retrying", run.job_id)


def _store_batch_once(database: Database, run: ImportRun, batch: list[tuple[str, ChatMessage]], seen: int) -> None:
    """One transaction: the batch's new messages, their files, and the job's progress."""
    with database.session() as db:
        known = set(db.scalars(select(Message.wa_message_id).where(
            Message.org_id == run.org_id, Message.wa_message_id.in_([w for w, _ in batch]))))
        rows = []
        for wamid, message in batch:
            if wamid in known:
                run.duplicates += 1
                continue
            known.add(wamid)
            stored = message_row(run, wamid, message)
            db.add(stored)
            rows.append((stored, message))
            if run.newest is None or stored.sent_at > run.newest[0]:
                run.newest = (stored.sent_at, render_text(stored)[0])
        db.flush()
        store_media(database, db, run, rows)
        run.imported += len(rows)
        run.processed = seen
        _summarise(db, run)
        db.execute(update(ChatImportJob).where(ChatImportJob.id == run.job_id).values(
            processed=run.processed, imported=run.prior + run.imported,
            duplicates=max(0, run.duplicates - run.prior),
            media_stored=run.media_stored, heartbeat_at=utcnow()))
        emit_on_commit(db, ImportsChanged(org_id=run.org_id, job_id=run.job_id))


def _summarise(db: Session, run: ImportRun) -> None:
    """The conversation's last message and preview, when the import brought a newer one."""
    if run.newest is None:
        return
    when, preview = run.newest
    note_messages(db, [NewestMessage(db.get_one(Conversation, run.cast.conversation_id), when, preview)])


def _import(database: Database, run: ImportRun) -> None:
    """Second pass: stream the messages into the conversation, BATCH at a time."""
    recent: OrderedDict[tuple[datetime, str | None, str], int] = OrderedDict()
    batch: list[tuple[str, ChatMessage]] = []
    seen = 0
    with run.export.messages(run.fmt) as messages:
        for message in messages:
            seen += 1
            if message.kind is Kind.EMPTY:
                continue
            key = (message.timestamp, message.author, message.text)
            occurrence = recent.pop(key, -1) + 1
            recent[key] = occurrence
            if len(recent) > RECENT_KEYS:
                recent.popitem(last=False)
            batch.append((message_id(run.org_id, run.cast.contact_id, message, occurrence), message))
            if len(batch) >= BATCH:
                _store_batch(database, run, batch, seen)
                batch = []
    _store_batch(database, run, batch, seen)


def _spool_of(database: Database, job_id: int) -> tuple[int, str]:
    with database.session() as db:
        job = db.get_one(ChatImportJob, job_id)
        return job.org_id, job.spool_path


def _run_claimed(database: Database, job_id: int) -> None:
    """Run a claimed job to its end (or on from where a dead worker left it); errors end up on the job."""
    run: ImportRun | None = None
    org_id, spooled = _spool_of(database, job_id)
    blob_store(database.keyring).prepare(org_id)  # before the batches' write transactions (SQLite)
    try:
        with spool.opened(database, org_id, spooled) as path:
            try:
                run = _prepare(database, job_id, path)
                if run is None:
                    return  # waits in REVIEW for the importer's choices; the upload stays until then
                _import(database, run)
            finally:
                if run is not None:
                    run.export.close()
    except (ExportFormatError, DomainError) as exc:
        _finish(database, job_id, error=f"Nothing was imported: {exc}" if run is None else str(exc))
        return
    except Exception:
        log.exception("chat import %s failed", job_id)
        done = f" ({run.imported} messages were stored; importing the same file again completes it)" if run else ""
        _finish(database, job_id, error="The import stopped on an unexpected error" + done)
        return
    _finish(database, job_id, run=run)


def run_job(database: Database, job_id: int) -> None:
    """Claim one queued job and run it here, in this thread (tests, tools); the runner does the same."""
    owner = worker_name()
    if claim(database, IMPORT_QUEUE, owner, limit=1, lease=LEASE, only=[job_id]):
        try:
            _run_claimed(database, job_id)
        finally:
            release(database, IMPORT_QUEUE, owner, [job_id])


def run_in_background(_database: Database, _job_id: int) -> None:
    """A job was queued (and committed): this process's job runner claims it now, another worker on its next
    look."""
    nudge(KIND)


class ChatImports:
    """The runner's worker for chat imports."""

    def __init__(self, database: Database) -> None:
        self.database, self.owner, self.lease = database, worker_name(), LEASE

    def recover(self) -> int:
        return 0  # a running job whose lease ran out is ready again as it is

    def run(self, key: Any) -> None:
        _run_claimed(self.database, int(key))

    def pending(self) -> int:
        with self.database.session() as db:
            return int(db.scalar(select(func.count()).select_from(ChatImportJob).where(
                ChatImportJob.state.in_([ImportState.QUEUED, ImportState.RUNNING]))) or 0)

    def close(self) -> None:
        pass


def chat_import_kind() -> JobKind:
    """Two imports at a time per runner: a long one does not hold up the next upload."""
    return JobKind(name=KIND, queue=IMPORT_QUEUE, start=ChatImports, threads=2, idle=2.0)
