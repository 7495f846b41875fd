"""The outbox sender: claims due rows, sends them to the Cloud API at a per-number rate, records the outcome.

Crash guarantee (see README "Outbox"): each attempt is recorded (`call_started_at`, committed) before the
request leaves. After a crash, an attempt without that mark is simply queued again (nothing left); one with
it is *unconfirmed*: the Cloud API echoes our key (`biz_opaque_callback_data`) in the status webhooks of the
message, so a receipt arriving within the reconcile window marks it sent with its wamid (no second send).
Only when no receipt comes within the window is it sent again. A message is therefore sent twice only if
WhatsApp accepted it *and* sent no status webhook for the whole window; if a late receipt then shows that,
the message is flagged. The outbox is a queue of the job runner (jobs/): rows are claimed with a lease kept
alive by a heartbeat, and several workers share them on PostgreSQL with FOR UPDATE SKIP LOCKED.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from pkcrm_app.channels.whatsapp.client import CloudApiError, CloudClient, Outcome
from pkcrm_app.channels.whatsapp.models import WhatsAppNumber
from pkcrm_app.channels.whatsapp.webhook import STATUS_RANK
from pkcrm_app.core.db import Database, utcnow
from pkcrm_app.core.events import MessagesChanged, emit_on_commit
from pkcrm_app.inbox.models import Message, MessageStatus
from pkcrm_app.inbox.outbox import files as outbound_media
from pkcrm_app.inbox.outbox.models import OutboxItem, OutboxState
from pkcrm_app.inbox.outbox.service import PENDING_PREFIX
from pkcrm_app.jobs.kinds import JobKind, worker_name
from pkcrm_app.jobs.lease import LeaseQueue
from pkcrm_app.jobs.lease import backoff as job_backoff
from pkcrm_app.jobs.runner import run_round
from pkcrm_app.settings import get_settings

log = logging.getLogger("pkcrm.outbox")
MAX_ATTEMPTS = 8
BACKOFF_BASE, BACKOFF_CAP = 1.0, 300.0
MARGIN = 1.01
LONG_BACKOFF = {131048: 3600.0, 131049: 6 * 3600.0}  # spam restriction, Meta chose not to deliver
CRASH_AFTER_SEND = "PKCRM_OUTBOX_TEST_CRASH_AFTER_SEND"  # tests: SIGKILL self after the Nth send, before recording


class RateLimiter:
    """At most `rate` sends per second per number: each send takes the next slot, 1/rate apart plus a 1 % margin
    for network jitter (no bursts), so no one-second window at WhatsApp's side holds more than `rate`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.clock, self.sleep = clock, sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str, rate: float) -> None:
        with self._lock:
            now = self.clock()
            slot = max(now, self._next.get(key, now))
            self._next[key] = slot + MARGIN / rate
        if slot > now:
            self.sleep(slot - now)

    def hold(self, key: str, seconds: float) -> None:
        """WhatsApp said the number is throttled (130429): no send from it for `seconds`."""
        with self._lock:
            self._next[key] = max(self._next.get(key, 0.0), self.clock() + seconds)


def backoff(attempts: int, code: int | None = None) -> float:
    """Exponential back-off with jitter: about 1, 2, 4 ... seconds, capped; long waits for spam limits."""
    if code is not None and code in LONG_BACKOFF:
        return LONG_BACKOFF[code]
    return job_backoff(attempts, base=BACKOFF_BASE, cap=BACKOFF_CAP)


def _ready(due_by: datetime) -> ColumnElement[bool]:
    return (OutboxItem.state == OutboxState.QUEUED) & (OutboxItem.next_attempt_at <= due_by)


# A claimed row is in flight, its attempt counted, and not yet started (the mark goes on just before the request).
OUTBOX_QUEUE = LeaseQueue(model=OutboxItem, ready=_ready, order=("next_attempt_at", "id"),
                          on_claim=lambda _now: {"state": OutboxState.IN_FLIGHT, "call_started_at": None})


@dataclass
class Sender:
    database: Database
    client_factory: Callable[[str], CloudClient] = field(default=lambda token: CloudClient(access_token=token))
    batch_size: int = 50
    rate_share: int = 1  # workers sharing each number's rate limit
    limiter: RateLimiter = field(default_factory=RateLimiter)
    owner: str = field(default_factory=worker_name)
    sent_count: int = 0

    def __post_init__(self) -> None:
        settings = get_settings()
        self.lease = timedelta(seconds=settings.outbox_lease_seconds)
        self.reconcile = timedelta(seconds=settings.outbox_reconcile_seconds)
        self.default_rate = settings.whatsapp_messages_per_second
        self._clients: dict[str, CloudClient] = {}
        crash = os.environ.get(CRASH_AFTER_SEND, "")
        self._crash_after = int(crash) if crash.isdigit() else 0

    def _client(self, token: str) -> CloudClient:
        if token not in self._clients:
            self._clients[token] = self.client_factory(token)
        return self._clients[token]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    # -- recovery ---------------------------------------------------------------------------------------------
    def recover(self, now: datetime | None = None) -> int:
        """Expired leases: never-started attempts are queued again, started ones wait for a receipt."""
        now = now or utcnow()
        moved = 0
        with self.database.session() as db:
            expired = db.scalars(_locked(db, select(OutboxItem).where(
                OutboxItem.state == OutboxState.IN_FLIGHT, OutboxItem.lease_until < now)))
            for item in expired:
                if item.call_started_at is None:
                    item.state, item.next_attempt_at = OutboxState.QUEUED, now
                else:
                    item.state, item.next_attempt_at = OutboxState.UNCONFIRMED, item.call_started_at + self.reconcile
                    item.last_error = "the sender stopped while sending: waiting for WhatsApp's receipt"
                item.lease_owner = item.lease_until = None
                moved += 1
            overdue = db.scalars(_locked(db, select(OutboxItem).where(
                OutboxItem.state == OutboxState.UNCONFIRMED, OutboxItem.next_attempt_at <= now)))
            for item in overdue:
                log.warning("outbox item %s: no receipt within the reconcile window; sending again", item.id)
                item.state, item.next_attempt_at, item.call_started_at = OutboxState.QUEUED, now, None
                moved += 1
        return moved

    # -- delivering -------------------------------------------------------------------------------------------
    def run(self, key: Any) -> None:
        """The runner hands over a claimed row."""
        self.deliver(int(key))

    def deliver(self, item_id: int) -> None:
        with self.database.session() as db:
            item = db.get_one(OutboxItem, item_id)
            if item.state != OutboxState.IN_FLIGHT or item.lease_owner != self.owner:
                return
            number = db.get_one(WhatsAppNumber, item.number_id)
            token, phone_id = number.access_token or "", number.phone_number_id
            rate = (number.messages_per_second or self.default_rate) / max(self.rate_share, 1)
            payload, kind = dict(item.payload), str(item.payload.get("type"))
            media_path, media_id, attempt = item.media_path, item.media_id, item.attempts
        if not token:
            self._failed(item_id, attempt, CloudApiError(
                Outcome.PERMANENT, "This WhatsApp number has no access token: an admin must add one in WhatsApp "
                "settings."))
            return
        client = self._client(token)
        try:
            if media_path and not media_id:
                media_id = self._upload(client, item_id, phone_id, kind, media_path)
            if media_id:
                payload[kind] = {**payload.get(kind, {}), "id": media_id}
            self.limiter.acquire(phone_id, rate)
            self._mark_started(item_id, attempt)
            wamid = client.send_message(phone_id, payload)
        except CloudApiError as exc:
            if exc.code == 130429:
                self.limiter.hold(phone_id, backoff(1))
            self._failed(item_id, attempt, exc)
            return
        self.sent_count += 1
        if self._crash_after and self.sent_count >= self._crash_after:
            os.kill(os.getpid(), 9)  # a test's crash point: the request went out, nothing is recorded yet
        self._succeeded(item_id, wamid)

    def _upload(self, client: CloudClient, item_id: int, phone_id: str, kind: str, media_path: str) -> str:
        with self.database.session() as db:
            item = db.get_one(OutboxItem, item_id)
            data = outbound_media.load(self.database, item.org_id, media_path)
            filename = str(item.payload.get(kind, {}).get("filename") or kind)
            mime_type = item.media_type or sorted(outbound_media.LIMITS[kind][1])[0]
        media_id = client.upload_media(phone_id, data, mime_type, filename)
        with self.database.session() as db:
            db.get_one(OutboxItem, item_id).media_id = media_id  # an upload is harmless to repeat, a send is not
        return media_id

    def _mark_started(self, item_id: int, attempt: int) -> None:
        with self.database.session() as db:
            item = db.get_one(OutboxItem, item_id)
            if item.attempts == attempt:
                item.call_started_at = utcnow()

    def _own(self, db: Session, item_id: int, attempt: int) -> OutboxItem | None:
        item = db.get_one(OutboxItem, item_id, with_for_update=db.get_bind().dialect.name == "postgresql")
        return item if item.attempts == attempt and item.state == OutboxState.IN_FLIGHT else None

    def _succeeded(self, item_id: int, wamid: str) -> None:
        with self.database.session() as db:
            item = db.get_one(OutboxItem, item_id)
            if item.state == OutboxState.SENT and item.wa_message_id and item.wa_message_id != wamid:
                log.error("outbox item %s was sent twice (%s, %s)", item_id, item.wa_message_id, wamid)
            mark_sent(db, item, wamid)

    def _failed(self, item_id: int, attempt: int, exc: CloudApiError) -> None:
        now = utcnow()
        with self.database.session() as db:
            item = self._own(db, item_id, attempt)
            if item is None:
                return
            item.lease_owner = item.lease_until = None
            item.last_error = exc.reason[:500]
            if exc.outcome == Outcome.UNKNOWN:
                item.state, item.next_attempt_at = OutboxState.UNCONFIRMED, now + self.reconcile
            elif exc.outcome == Outcome.RETRY and item.attempts < MAX_ATTEMPTS:
                item.state, item.call_started_at = OutboxState.QUEUED, None
                item.next_attempt_at = now + timedelta(seconds=backoff(item.attempts, exc.code))
            else:
                reason = exc.reason if exc.outcome == Outcome.PERMANENT else (
                    f"WhatsApp kept refusing after {item.attempts} attempts ({exc.reason}). Try again later.")
                item.state = OutboxState.FAILED
                message = db.get_one(Message, item.message_id)
                message.status, message.status_updated_at = MessageStatus.FAILED, now
                message.error = [{"code": exc.code or "", "title": reason}]
                emit_on_commit(db, MessagesChanged(org_id=item.org_id, conversation_ids=(message.conversation_id,),
                                                   message_ids=(message.id,)))

    # -- loop -------------------------------------------------------------------------------------------------
    def pending(self) -> int:
        """Rows not finished yet: queued, in flight or waiting for a receipt."""
        with self.database.session() as db:
            return len(db.scalars(select(OutboxItem.id).where(OutboxItem.state.in_(
                [OutboxState.QUEUED, OutboxState.IN_FLIGHT, OutboxState.UNCONFIRMED]))).all())

    def run_once(self) -> int:
        """One round of the runner for this sender alone: recover, claim one batch, deliver it."""
        return run_round(self.database, OUTBOX_QUEUE, self, batch=self.batch_size)


def _locked(db: Session, statement):  # type: ignore[no-untyped-def]
    """Rows other workers hold are skipped on PostgreSQL; SQLite has one writer at a time anyway."""
    if db.get_bind().dialect.name == "postgresql":
        return statement.with_for_update(skip_locked=True)
    return statement


def mark_sent(db: Session, item: OutboxItem, wamid: str) -> None:
    """Record the Cloud API's wamid on the row and its message (also used when a receipt reconciles it)."""
    now = utcnow()
    if item.state != OutboxState.SENT:
        item.state, item.sent_at = OutboxState.SENT, now
    item.lease_owner = item.lease_until = None
    item.wa_message_id = item.wa_message_id or wamid
    message = db.get_one(Message, item.message_id)
    if message.wa_message_id.startswith(PENDING_PREFIX):
        message.wa_message_id = wamid
    if message.status != MessageStatus.FAILED and STATUS_RANK.get(message.status.value, -1) < STATUS_RANK["sent"]:
        message.status, message.status_updated_at = MessageStatus.SENT, now
    emit_on_commit(db, MessagesChanged(org_id=item.org_id, conversation_ids=(message.conversation_id,),
                                       message_ids=(message.id,)))



def outbox_kind(*, batch: int = 50, rate_share: int = 1) -> JobKind:
    """The outbox as a job kind: one sender thread per runner, so each number's rate holds in the process."""
    return JobKind(name="inbox.outbox", queue=OUTBOX_QUEUE, batch=batch, idle=0.2,
                   start=lambda database: Sender(database, batch_size=batch, rate_share=rate_share))
