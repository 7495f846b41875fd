"""The rows an imported message becomes: a deterministic id, the message itself, and its file from the zip."""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from pkcrm_app.core.db import Database, utcnow
from pkcrm_app.imports.chat_export import ChatMessage, ExportFile, ExportFormat, Kind
from pkcrm_app.imports.people import Cast
from pkcrm_app.inbox.media.downloads import MEDIA, media_key
from pkcrm_app.inbox.models import Direction, MediaState, Message, MessageMedia, MessageStatus
from pkcrm_app.storage.store import blob_store


@dataclass
class ImportRun:
    """What one run of a job keeps: the export, its thread, and the counters it reports."""

    job_id: int
    org_id: int
    export: ExportFile
    fmt: ExportFormat
    cast: Cast
    zone: ZoneInfo | None
    media: set[str]
    imported: int = 0
    duplicates: int = 0
    processed: int = 0
    media_stored: int = 0
    newest: tuple[datetime, str] | None = None  # the latest imported message: when, and its preview
    prior: int = 0  # messages an interrupted earlier run of this job stored (read again as duplicates now)


def message_id(org_id: int, contact_id: int, message: ChatMessage, occurrence: int) -> str:
    """The deterministic id of an imported message: the same file imported twice gives the same ids."""
    key = "\x1f".join((str(org_id), str(contact_id), message.timestamp.isoformat(), message.author or "",
                       message.text, str(occurrence)))
    return "import:" + hashlib.sha256(key.encode()).hexdigest()


def _utc(run: ImportRun, stamp: datetime) -> datetime:
    """Exports carry the phone's local time; it is read in the organisation's time zone."""
    if run.zone is None:
        return stamp
    return stamp.replace(tzinfo=run.zone).astimezone(UTC).replace(tzinfo=None)


def message_row(run: ImportRun, wamid: str, message: ChatMessage) -> Message:
    """A team member's message is outbound (theirs), any other author's inbound; files keep their name."""
    author = message.author
    member = run.cast.members.get(author) if author is not None else None
    content: dict[str, object] = {"imported": True, "author": author or ""}
    body: str | None = message.text
    kind = "text"
    if message.kind is Kind.SYSTEM:
        kind, body, content["body"] = "system", None, message.text
    elif message.kind is Kind.MEDIA:
        kind = message.media_type or "document"
        caption = message.text.split("\n", 1)[1] if "\n" in message.text else ""
        content.update(filename=message.attachment or "", caption=caption, omitted=message.attachment is None)
        body = None
    return Message(org_id=run.org_id, conversation_id=run.cast.conversation_id, wa_message_id=wamid,
                   direction=Direction.OUTBOUND if member else Direction.INBOUND, type=kind, body=body,
                   status=MessageStatus.SENT if member else MessageStatus.RECEIVED, author_user_id=member,
                   sent_at=_utc(run, message.timestamp), content=content, created_at=utcnow())


def store_media(database: Database, db: Session, run: ImportRun, rows: list[tuple[Message, ChatMessage]]) -> None:
    """The zip's file of each attachment, in the organisation's media like downloaded files."""
    store = blob_store(database.keyring)
    for stored, message in rows:
        name = message.attachment
        data = run.export.read_media(name) if name and name in run.media else None
        if data is None or name is None:
            continue
        store.put(run.org_id, MEDIA, media_key(stored.id), data)
        mime_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        db.add(MessageMedia(message_id=stored.id, org_id=run.org_id, phone_number_id="",
                            media_id=f"import:{name}"[:128], kind=stored.type[:16], mime_type=mime_type,
                            sha256=hashlib.sha256(data).hexdigest(), size=len(data), state=MediaState.STORED,
                            reason="", attempts=0, stored_at=utcnow()))
        run.media_stored += 1
