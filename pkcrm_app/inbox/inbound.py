"""Stores parsed webhook batches: contacts, leads, conversations, messages and status updates.

Set-based: one query per kind of row for the whole delivery, rows touched in a fixed order (senders
sorted), so concurrent deliveries that share customers cannot deadlock each other; a lost race (the same
message or contact stored by another worker meanwhile) raises, and the delivery flow
(flows/webhook_delivery.py) retries the whole transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import DateTime, Integer, Table, and_, bindparam, case, func, or_, select
from sqlalchemy import update as update_rows
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from pkcrm_app.channels.whatsapp.webhook import STATUS_RANK, ChangeBatch, InboundMessage, StatusUpdate
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.events import LeadsChanged, MessagesChanged, emit_on_commit
from pkcrm_app.crm.models import Contact, Lead
from pkcrm_app.crm.service import open_leads_for_contacts
from pkcrm_app.inbox.models import Conversation, Direction, MediaState, Message, MessageMedia, MessageStatus
from pkcrm_app.inbox.service import render_text

log = logging.getLogger(__name__)
PREVIEW_CHARS = 140


@dataclass
class IngestReport:
    stored: int = 0
    duplicates: int = 0
    statuses_applied: int = 0
    statuses_ignored: int = 0
    failed: int = 0  # messages that could not be stored (logged); the rest of their delivery is kept
    new_leads: list[int] = field(default_factory=list)
    conversations: set[int] = field(default_factory=set)
    messages: set[int] = field(default_factory=set)  # ids of messages stored or whose status moved
    media_pending: list[int] = field(default_factory=list)  # message ids whose file is fetched after the answer

    def add(self, other: IngestReport) -> None:
        for name in ("stored", "duplicates", "statuses_applied", "statuses_ignored", "failed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.new_leads += other.new_leads
        self.conversations |= other.conversations
        self.messages |= other.messages
        self.media_pending += other.media_pending


@dataclass(frozen=True)
class NewestMessage:
    """A conversation's newest new message, and how many of the new ones the customer sent just now."""

    conversation: Conversation
    at: datetime
    preview: str
    received: int = 0


def note_messages(db: Session, newest: Sequence[NewestMessage]) -> None:
    """The one writer of conversations' summaries: time and preview of the newest message unless a newer one is
    already there; messages the customer sent just now over the channel (`received`) also count as unread and
    move the reply window (outbound messages and imported history pass 0).

    Compare-and-set in SQL, one statement for all the conversations, never read-modify-write: deliveries stored
    at the same time (other workers, other threads) cannot put an older message back on top or lose an unread
    one. Rows are touched in id order."""
    if not newest:
        return
    at, preview, received = bindparam("at", type_=DateTime()), bindparam(
        "preview", type_=Conversation.last_message_preview.type), bindparam("received", type_=Integer())
    newer = or_(Conversation.last_message_at.is_(None), Conversation.last_message_at <= at)
    db.execute(
        update_rows(cast(Table, Conversation.__table__)).where(Conversation.id == bindparam("conversation"))
        .values(last_message_at=case((newer, at), else_=Conversation.last_message_at),
                last_message_preview=case((newer, preview), else_=Conversation.last_message_preview),
                unread_count=Conversation.unread_count + received,
                last_inbound_at=case((and_(received > 0, or_(Conversation.last_inbound_at.is_(None),
                                                              Conversation.last_inbound_at < at)), at),
                                     else_=Conversation.last_inbound_at)),
        [{"conversation": n.conversation.id, "at": n.at, "preview": n.preview[:PREVIEW_CHARS], "received": n.received}
         for n in sorted(newest, key=lambda n: n.conversation.id)])
    for n in newest:
        db.expire(n.conversation, ["last_message_at", "last_message_preview", "last_inbound_at", "unread_count"])
    _note_lead_activity(db, newest)


def _note_lead_activity(db: Session, newest: Sequence[NewestMessage]) -> None:
    """The contacts' leads take their conversation's newest message time as their last activity (the board's
    order), read from the conversation row just updated, so concurrent deliveries agree and an imported history
    ranks by its own dates, not by when it was imported."""
    lead = cast(Table, Lead.__table__)
    conversation = cast(Table, Conversation.__table__)
    newest_at = (select(conversation.c.last_message_at).where(conversation.c.id == bindparam("conversation"))
                 .scalar_subquery())
    db.execute(
        update_rows(lead).where(lead.c.org_id == bindparam("org"), lead.c.contact_id == bindparam("contact"))
        .values(last_activity_at=func.coalesce(newest_at, lead.c.last_activity_at)),
        [{"org": n.conversation.org_id, "contact": n.conversation.contact_id, "conversation": n.conversation.id}
         for n in sorted(newest, key=lambda n: n.conversation.contact_id)])


class LostRace(RuntimeError):
    """A row another transaction is creating is not visible yet; the delivery is retried."""


def _insert_missing(db: Session, model: type[Any], keys: tuple[str, ...], rows: list[dict[str, Any]]) -> set[Any]:
    """INSERT ... ON CONFLICT DO NOTHING; returns the ids this transaction created (others may win)."""
    if not rows:
        return set()
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(model).values(rows).on_conflict_do_nothing(index_elements=list(keys)).returning(model.id)
    return set(db.scalars(statement))


def _contacts(db: Session, org_id: int, messages: list[InboundMessage], report: IngestReport) -> dict[str, Contact]:
    """The contact of every sender, creating new ones (each with a lead) in sender order."""
    senders = sorted({m.sender_id for m in messages})
    by_sender = select(Contact).where(Contact.org_id == org_id, Contact.wa_id.in_(senders))
    found = {c.wa_id: c for c in db.scalars(by_sender)}
    names = {m.sender_id: m.sender_name for m in messages if m.sender_name}
    created = _insert_missing(db, Contact, ("org_id", "wa_id"), [
        {"org_id": org_id, "wa_id": s, "phone_e164": f"+{s}" if s.isdigit() and len(s) <= 15 else None,
         "name": names.get(s, ""),
         "created_at": utcnow()}
        for s in senders if s not in found
    ])
    if len(found) < len(senders):
        found = {c.wa_id: c for c in db.scalars(by_sender)}
        if len(found) < len(senders):
            raise LostRace("a new contact is being stored by another delivery")
    for contact in found.values():
        if not contact.name and names.get(contact.wa_id):
            contact.name = names[contact.wa_id]
    report.new_leads.extend(lead.id for lead in open_leads_for_contacts(db, org_id=org_id, contact_ids=sorted(created)))
    return found


def _conversations(db: Session, org_id: int, contact_ids: list[int]) -> dict[int, Conversation]:
    by_contact = (select(Conversation).where(Conversation.org_id == org_id, Conversation.contact_id.in_(contact_ids))
                  .order_by(Conversation.id))
    found = {c.contact_id: c for c in db.scalars(by_contact)}
    missing = sorted(set(contact_ids) - set(found))
    if missing:
        _insert_missing(db, Conversation, ("org_id", "contact_id"), [
            {"org_id": org_id, "contact_id": cid, "unread_count": 0, "created_at": utcnow()} for cid in missing
        ])
        found = {c.contact_id: c for c in db.scalars(by_contact)}
        if set(contact_ids) - set(found):
            raise LostRace("a new conversation is being stored by another delivery")
    return found


def _message_row(org_id: int, conversation_id: int, message: InboundMessage) -> Message:
    kind = message.kind
    content = {**kind.content, "referral": kind.referral} if kind.referral else kind.content
    return Message(
        org_id=org_id, conversation_id=conversation_id, wa_message_id=message.wa_message_id,
        direction=Direction.INBOUND, type=message.type, body=message.text, raw_payload=message.raw,
        status=MessageStatus.RECEIVED, sent_at=message.timestamp, content=content or None,
        context_wamid=kind.context_wamid, reacts_to=kind.reacts_to, forwarded=kind.forwarded or None,
    )


def _media_rows(db: Session, org_id: int, rows: list[tuple[Message, InboundMessage]], numbers: dict[str, str],
                report: IngestReport) -> None:
    """A pending media row per file-carrying message: the download runs after the webhook has answered."""
    media = [(stored, m) for stored, m in rows if m.kind.media is not None]
    if not media:
        return
    db.flush()  # message ids
    for stored, message in media:
        ref = message.kind.media
        assert ref is not None
        db.add(MessageMedia(message_id=stored.id, org_id=org_id, phone_number_id=numbers.get(message.wa_message_id, ""),
                            media_id=ref.media_id, kind=message.type[:16], mime_type=ref.mime_type,
                            sha256=ref.sha256, state=MediaState.PENDING, reason="", attempts=0,
                            next_attempt_at=utcnow()))
        report.media_pending.append(stored.id)


def _record_referrals(db: Session, org_id: int, contacts: dict[str, Contact], messages: list[InboundMessage]) -> None:
    """A click-to-WhatsApp ad or post becomes the source of the customer's leads that have no other source."""
    for message in messages:
        if message.kind.referral:
            kind = message.kind.referral.get("source_type", "")
            source = f"whatsapp {kind if kind in ('ad', 'post') else 'ad or post'}"
            db.execute(update_rows(Lead).where(Lead.org_id == org_id, Lead.contact_id == contacts[message.sender_id].id,
                                          Lead.source == "whatsapp").values(source=source))


def store_inbound(db: Session, org_id: int, messages: list[InboundMessage], report: IngestReport,
                  numbers: dict[str, str] | None = None) -> None:
    """Store each new inbound message once, opening contact, lead and conversation as needed."""
    known = set(db.scalars(select(Message.wa_message_id).where(
        Message.org_id == org_id, Message.wa_message_id.in_({m.wa_message_id for m in messages}))))
    fresh: dict[str, InboundMessage] = {}
    for message in messages:
        if message.wa_message_id in known or message.wa_message_id in fresh:
            report.duplicates += 1
        else:
            fresh[message.wa_message_id] = message
    if not fresh:
        return
    ordered = sorted(fresh.values(), key=lambda m: (m.sender_id, m.timestamp, m.wa_message_id))
    contacts = _contacts(db, org_id, ordered, report)
    conversations = _conversations(db, org_id, [contacts[m.sender_id].id for m in ordered])
    rows = []
    newest: dict[int, tuple[Conversation, InboundMessage, Message, int]] = {}  # conversation id -> newest, count
    for message in ordered:
        conversation = conversations[contacts[message.sender_id].id]
        stored = _message_row(org_id, conversation.id, message)
        db.add(stored)
        rows.append((stored, message))
        count = newest[conversation.id][3] + 1 if conversation.id in newest else 1
        newest[conversation.id] = (conversation, message, stored, count)  # in time order: the last is the newest
        report.stored += 1
        report.conversations.add(conversation.id)
    _media_rows(db, org_id, rows, numbers or {}, report)
    db.flush()  # message ids, for the live event
    note_messages(db, [NewestMessage(conversation, message.timestamp, render_text(stored)[0], count)
                       for conversation, message, stored, count in newest.values()])
    report.messages.update(stored.id for stored, _ in rows)
    _record_referrals(db, org_id, contacts, ordered)


def apply_statuses(db: Session, org_id: int, updates: list[StatusUpdate], report: IngestReport) -> None:
    """Move delivery statuses forward only; `failed` keeps its error."""
    messages = {m.wa_message_id: m for m in db.scalars(select(Message).where(
        Message.org_id == org_id, Message.wa_message_id.in_({u.wa_message_id for u in updates}))
        .order_by(Message.id))}
    for update in sorted(updates, key=lambda u: (u.timestamp, STATUS_RANK.get(u.status, 9))):
        message = messages.get(update.wa_message_id)
        if message is None:
            log.info("status %s for unknown message %s ignored", update.status, update.wa_message_id)
            report.statuses_ignored += 1
            continue
        current = STATUS_RANK.get(message.status.value, -1)
        if update.status == "failed":
            message.error = update.errors or [{"title": "failed without details"}]
            if message.status != MessageStatus.FAILED and current < STATUS_RANK["delivered"]:
                message.status = MessageStatus.FAILED
        elif message.status != MessageStatus.FAILED and STATUS_RANK.get(update.status, -1) > current:
            message.status = MessageStatus(update.status)
        else:
            report.statuses_ignored += 1
            continue
        message.status_updated_at = update.timestamp
        report.statuses_applied += 1
        report.conversations.add(message.conversation_id)
        report.messages.add(message.id)


def ingest_batches(db: Session, org_id: int, batches: list[ChangeBatch]) -> IngestReport:
    """Store one organisation's batches in the caller's transaction (flushed, not committed)."""
    report = IngestReport()
    messages = [m for batch in batches for m in batch.messages]
    statuses = [s for batch in batches for s in batch.statuses]
    if messages:
        numbers = {m.wa_message_id: batch.phone_number_id for batch in batches for m in batch.messages}
        store_inbound(db, org_id, messages, report, numbers)
        db.flush()
    if statuses:
        apply_statuses(db, org_id, statuses, report)
    if report.conversations:
        emit_on_commit(db, MessagesChanged(org_id=org_id, conversation_ids=tuple(sorted(report.conversations)),
                                           message_ids=tuple(sorted(report.messages))))
    if report.new_leads:  # the cards of known leads follow their conversation's messages event
        emit_on_commit(db, LeadsChanged(org_id=org_id, lead_ids=tuple(report.new_leads)))
    return report
