"""Downloads of inbound media after the webhook has answered: claim a pending file, fetch it, store it encrypted
(AES-GCM, the database's keyring) under the instance folder, and mark it stored or failed in plain words.

Transient failures are retried with exponential back-off; a row stays `pending` with its next attempt time, so
`retry_due` (a periodic task, or the next delivery's background task) picks up what a restart interrupted.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import select, update

from pkcrm_app.channels.whatsapp.media import MediaError, fetch
from pkcrm_app.channels.whatsapp.models import WhatsAppNumber
from pkcrm_app.core.db import Database, utcnow
from pkcrm_app.core.events import MessagesChanged, emit_on_commit
from pkcrm_app.inbox.models import MediaState, Message, MessageMedia
from pkcrm_app.settings import get_settings

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
BACKOFF_SECONDS = 0.5  # 0.5, 1, 2, 4 s between the attempts of one background run
LEASE = timedelta(minutes=2)  # a claimed download others leave alone


def org_media_dir(org_id: int) -> Path:
    """The organisation's stored media files: under the instance folder, never a public one."""
    return get_settings().instance_dir / "media" / str(org_id)


def media_path(org_id: int, message_id: int) -> Path:
    """Where one stored file lives."""
    return org_media_dir(org_id) / f"{message_id}.bin"


def write_encrypted(database: Database, path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    draft = path.with_suffix(f".{os.getpid()}.part")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(database.keyring.encrypt(data))
    os.replace(draft, path)


def _claim(database: Database, message_id: int, waited_until: datetime | None = None) -> bool:
    """Take the pending download if it is due (or is the back-off we just waited out) and nobody else holds it."""
    now = utcnow()
    due_by = max(now, waited_until) if waited_until else now
    with database.session() as db:
        result = db.execute(update(MessageMedia).where(
            MessageMedia.message_id == message_id, MessageMedia.state == MediaState.PENDING,
            (MessageMedia.next_attempt_at.is_(None)) | (MessageMedia.next_attempt_at <= due_by),
        ).values(next_attempt_at=now + LEASE, attempts=MessageMedia.attempts + 1))
        return bool(getattr(result, "rowcount", 0))


def _finish(database: Database, message_id: int, *, error: MediaError | None = None, size: int = 0,
            mime_type: str = "") -> MediaState:
    with database.session() as db:
        media = db.get_one(MessageMedia, message_id)
        if error is None:
            media.state, media.reason, media.size, media.stored_at = MediaState.STORED, "", size, utcnow()
            media.mime_type = mime_type or media.mime_type
        elif error.transient and media.attempts < MAX_ATTEMPTS:
            media.reason = error.reason[:300]
            media.next_attempt_at = utcnow() + timedelta(seconds=BACKOFF_SECONDS * 2 ** (media.attempts - 1))
        else:
            media.state = MediaState.FAILED
            tries = f" (gave up after {media.attempts} attempts)" if error.transient else ""
            media.reason = (error.reason + tries)[:300]
        conversation_id = db.scalar(select(Message.conversation_id).where(Message.id == message_id))
        if media.state != MediaState.PENDING and conversation_id is not None:
            emit_on_commit(db, MessagesChanged(org_id=media.org_id, conversation_ids=(conversation_id,),
                                               message_ids=(message_id,)))
        return media.state


def download_one(database: Database, message_id: int, client: httpx.Client,
                 waited_until: datetime | None = None) -> MediaState | None:
    """One attempt at one file; None when it is not due or someone else holds it."""
    if not _claim(database, message_id, waited_until):
        return None
    settings = get_settings()
    with database.session() as db:
        media = db.get_one(MessageMedia, message_id)
        token = db.scalar(select(WhatsAppNumber.access_token).where(
            WhatsAppNumber.org_id == media.org_id, WhatsAppNumber.phone_number_id == media.phone_number_id))
        message = db.get_one(Message, message_id)
        animated = bool((message.content or {}).get("animated"))
        org_id, media_id, kind, sha = media.org_id, media.media_id, media.kind, media.sha256
    if not token:
        return _finish(database, message_id, error=MediaError("the WhatsApp number has no access token set"))
    try:
        fetched = fetch(client, base_url=settings.whatsapp_api_base, version=settings.whatsapp_api_version,
                        token=token, media_id=media_id, kind=kind, expected_sha256=sha, animated=animated)
        write_encrypted(database, media_path(org_id, message_id), fetched.data)
    except MediaError as exc:
        log.info("media of message %s: %s", message_id, exc.reason)
        return _finish(database, message_id, error=exc)
    except OSError as exc:
        log.error("media of message %s could not be written: %s", message_id, exc)
        return _finish(database, message_id, error=MediaError("the file could not be saved", transient=True))
    return _finish(database, message_id, size=len(fetched.data), mime_type=fetched.mime_type)


def download_now(database: Database, message_ids: list[int], *, client: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> dict[int, MediaState | None]:
    """The webhook's background task: each file, with its retries and back-off, one after the other."""
    outcome: dict[int, MediaState | None] = {}
    own = client is None
    client = client or httpx.Client(follow_redirects=True)
    try:
        for message_id in message_ids:
            state = download_one(database, message_id, client)
            while state == MediaState.PENDING:
                with database.session() as db:
                    due = db.get_one(MessageMedia, message_id).next_attempt_at or utcnow()
                sleep(max(0.0, (due - utcnow()).total_seconds()))
                state = download_one(database, message_id, client, waited_until=due)
            outcome[message_id] = state
    finally:
        if own:
            client.close()
    return outcome


def retry_due(database: Database, *, limit: int = 50, client: httpx.Client | None = None) -> int:
    """Pending downloads whose time has come (after a restart or a long back-off): one attempt each."""
    with database.session() as db:
        due = list(db.scalars(select(MessageMedia.message_id).where(
            MessageMedia.state == MediaState.PENDING, MessageMedia.next_attempt_at <= utcnow())
            .order_by(MessageMedia.next_attempt_at).limit(limit)))
    own = client is None
    client = client or httpx.Client(follow_redirects=True)
    try:
        return sum(download_one(database, message_id, client) is not None for message_id in due)
    finally:
        if own:
            client.close()
