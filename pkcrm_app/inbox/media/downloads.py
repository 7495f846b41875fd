"""Downloads of inbound media after the webhook has answered: claim a pending file, fetch it, store it encrypted
with the organisation's key (the blob store, scope `media`), and mark it stored or failed in plain words.

The rows are a queue of the job runner: the webhook's background task tries its new files at once (claiming
them like any worker, so two never fetch the same file); transient failures wait with exponential back-off,
and a row left `pending` (a restart, a long back-off) is claimed by the runner's `inbox.media_download` kind.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import ColumnElement, func, select

from pkcrm_app.channels.whatsapp.media import MediaError, fetch
from pkcrm_app.channels.whatsapp.models import WhatsAppNumber
from pkcrm_app.core.db import Database, utcnow
from pkcrm_app.core.events import MessagesChanged, emit_on_commit
from pkcrm_app.inbox.models import MediaState, Message, MessageMedia
from pkcrm_app.jobs.kinds import JobKind, worker_name
from pkcrm_app.jobs.lease import LeaseQueue, backoff, claim, release
from pkcrm_app.settings import get_settings
from pkcrm_app.storage.store import BlobScope, blob_store

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
BACKOFF_SECONDS = 0.5  # 0.5, 1, 2, 4 s between the attempts
LEASE = timedelta(minutes=2)  # a claimed download others leave alone (kept alive while it runs)
MEDIA = BlobScope("media")


def media_key(message_id: int) -> str:
    """The blob key of a message's file (in the organisation's `media` scope)."""
    return f"{message_id}.bin"


def _ready(due_by: datetime) -> ColumnElement[bool]:
    return (MessageMedia.state == MediaState.PENDING) & (
        MessageMedia.next_attempt_at.is_(None) | (MessageMedia.next_attempt_at <= due_by))


MEDIA_QUEUE = LeaseQueue(model=MessageMedia, key="message_id", ready=_ready, order=("next_attempt_at", "message_id"))


def _finish(database: Database, message_id: int, *, error: MediaError | None = None, size: int = 0,
            mime_type: str = "") -> MediaState:
    with database.session() as db:
        media = db.get_one(MessageMedia, message_id)
        if error is None:
            media.state, media.reason, media.size, media.stored_at = MediaState.STORED, "", size, utcnow()
            media.mime_type = mime_type or media.mime_type
        elif error.transient and media.attempts < MAX_ATTEMPTS:
            media.reason = error.reason[:300]
            media.next_attempt_at = utcnow() + timedelta(
                seconds=backoff(media.attempts, base=BACKOFF_SECONDS, cap=3600.0, jitter=False))
        else:
            media.state = MediaState.FAILED
            tries = f" (gave up after {media.attempts} attempts)" if error.transient else ""
            media.reason = (error.reason + tries)[:300]
        conversation_id = db.scalar(select(Message.conversation_id).where(Message.id == message_id))
        if media.state != MediaState.PENDING and conversation_id is not None:
            emit_on_commit(db, MessagesChanged(org_id=media.org_id, conversation_ids=(conversation_id,),
                                               message_ids=(message_id,)))
        return media.state


def fetch_and_store(database: Database, message_id: int, client: httpx.Client) -> MediaState:
    """One attempt at a file the caller has claimed; records the outcome on its row."""
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
        blob_store(database.keyring).put(org_id, MEDIA, media_key(message_id), fetched.data)
    except MediaError as exc:
        log.info("media of message %s: %s", message_id, exc.reason)
        return _finish(database, message_id, error=exc)
    except OSError as exc:
        log.error("media of message %s could not be written: %s", message_id, exc)
        return _finish(database, message_id, error=MediaError("the file could not be saved", transient=True))
    return _finish(database, message_id, size=len(fetched.data), mime_type=fetched.mime_type)


def download_now(database: Database, message_ids: list[int], *, client: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> dict[int, MediaState | None]:
    """The webhook's background task: each new file at once, with its retries and back-off, one after the other;
    None for a file someone else holds."""
    outcome: dict[int, MediaState | None] = {}
    owner = worker_name()
    own = client is None
    client = client or httpx.Client(follow_redirects=True)
    try:
        for message_id in message_ids:
            state: MediaState | None = None
            due: datetime | None = None
            while claim(database, MEDIA_QUEUE, owner, limit=1, lease=LEASE, only=[message_id], due_by=due):
                state = fetch_and_store(database, message_id, client)
                release(database, MEDIA_QUEUE, owner, [message_id])
                if state != MediaState.PENDING:
                    break
                with database.session() as db:
                    due = db.get_one(MessageMedia, message_id).next_attempt_at or utcnow()
                sleep(max(0.0, (due - utcnow()).total_seconds()))
            outcome[message_id] = state
    finally:
        if own:
            client.close()
    return outcome


class MediaDownloads:
    """The runner's worker for pending downloads whose time has come (after a restart or a long back-off)."""

    def __init__(self, database: Database) -> None:
        self.database, self.owner, self.lease = database, worker_name(), LEASE
        self.client = httpx.Client(follow_redirects=True)

    def recover(self) -> int:
        return 0  # a row whose lease ran out is ready again as it is

    def run(self, key: Any) -> None:
        fetch_and_store(self.database, int(key), self.client)

    def pending(self) -> int:
        with self.database.session() as db:
            return int(db.scalar(select(func.count()).select_from(MessageMedia).where(
                MessageMedia.state == MediaState.PENDING)) or 0)

    def close(self) -> None:
        self.client.close()


def media_download_kind() -> JobKind:
    return JobKind(name="inbox.media_download", queue=MEDIA_QUEUE, start=MediaDownloads, batch=10, idle=2.0)
