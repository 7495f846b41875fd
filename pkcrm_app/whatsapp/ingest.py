"""Stores parsed webhook batches: contacts, leads, conversations, messages and status updates."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pkcrm_app.core.db import Database
from pkcrm_app.core.events import DomainEvent, emit_on_commit
from pkcrm_app.crm.models import Contact
from pkcrm_app.crm.service import open_lead_for_contact
from pkcrm_app.inbox.models import Conversation, Direction, Message, MessageStatus
from pkcrm_app.inbox.service import render_text
from pkcrm_app.whatsapp.webhook import STATUS_RANK, ChangeBatch, InboundMessage, StatusUpdate

log = logging.getLogger(__name__)
PREVIEW_CHARS = 140


@dataclass
class IngestReport:
    stored: int = 0
    duplicates: int = 0
    statuses_applied: int = 0
    statuses_ignored: int = 0
    new_leads: list[int] = field(default_factory=list)
    conversations: set[int] = field(default_factory=set)


def _contact_for(db: Session, org_id: int, message: InboundMessage) -> tuple[Contact, bool]:
    contact = db.scalar(select(Contact).where(Contact.org_id == org_id, Contact.wa_id == message.sender_id))
    if contact is not None:
        if message.sender_name and contact.name != message.sender_name and not contact.name:
            contact.name = message.sender_name
        return contact, False
    phone = f"+{message.sender_id}" if message.sender_id.isdigit() else None
    contact = Contact(org_id=org_id, wa_id=message.sender_id, phone_e164=phone, name=message.sender_name)
    db.add(contact)
    db.flush()
    return contact, True


def _conversation_for(db: Session, org_id: int, contact_id: int) -> Conversation:
    conversation = db.scalar(
        select(Conversation).where(Conversation.org_id == org_id, Conversation.contact_id == contact_id)
    )
    if conversation is None:
        conversation = Conversation(org_id=org_id, contact_id=contact_id)
        db.add(conversation)
        db.flush()
    return conversation


def store_inbound(db: Session, org_id: int, message: InboundMessage, report: IngestReport) -> None:
    """Store one inbound message once, opening contact, lead and conversation as needed."""
    exists = db.scalar(
        select(Message.id).where(Message.org_id == org_id, Message.wa_message_id == message.wa_message_id)
    )
    if exists is not None:
        report.duplicates += 1
        return
    contact, is_new = _contact_for(db, org_id, message)
    if is_new:
        report.new_leads.append(open_lead_for_contact(db, org_id=org_id, contact_id=contact.id).id)
    conversation = _conversation_for(db, org_id, contact.id)
    stored = Message(
        org_id=org_id, conversation_id=conversation.id, wa_message_id=message.wa_message_id,
        direction=Direction.INBOUND, type=message.type, body=message.text, raw_payload=message.raw,
        status=MessageStatus.RECEIVED, sent_at=message.timestamp,
    )
    db.add(stored)
    if conversation.last_message_at is None or message.timestamp >= conversation.last_message_at:
        conversation.last_message_at = message.timestamp
        conversation.last_message_preview = render_text(stored)[0][:PREVIEW_CHARS]
    conversation.last_inbound_at = max(filter(None, [conversation.last_inbound_at, message.timestamp]))
    conversation.unread_count += 1
    report.stored += 1
    report.conversations.add(conversation.id)


def apply_status(db: Session, org_id: int, update: StatusUpdate, report: IngestReport) -> None:
    """Move a message's delivery status forward only; `failed` keeps its error."""
    message = db.scalar(select(Message).where(Message.org_id == org_id, Message.wa_message_id == update.wa_message_id))
    if message is None:
        log.info("status %s for unknown message %s ignored", update.status, update.wa_message_id)
        report.statuses_ignored += 1
        return
    current = STATUS_RANK.get(message.status.value, -1)
    if update.status == "failed":
        message.error = update.errors or [{"title": "failed without details"}]
        if message.status != MessageStatus.FAILED and current < STATUS_RANK["delivered"]:
            message.status = MessageStatus.FAILED
    elif message.status != MessageStatus.FAILED and STATUS_RANK.get(update.status, -1) > current:
        message.status = MessageStatus(update.status)
    else:
        report.statuses_ignored += 1
        return
    message.status_updated_at = update.timestamp
    report.statuses_applied += 1
    report.conversations.add(message.conversation_id)


def _ingest_once(db: Session, org_id: int, batches: list[ChangeBatch]) -> IngestReport:
    report = IngestReport()
    for batch in batches:
        for message in batch.messages:
            store_inbound(db, org_id, message, report)
            db.flush()
        for status in batch.statuses:
            apply_status(db, org_id, status, report)
    if report.conversations:
        emit_on_commit(db, DomainEvent(org_id, "messages", tuple(sorted(report.conversations))))
    if report.stored or report.new_leads:
        emit_on_commit(db, DomainEvent(org_id, "leads", tuple(report.new_leads)))
    return report


def ingest(database: Database, org_id: int, batches: list[ChangeBatch]) -> IngestReport:
    """Store the batches of one organisation in one transaction (retried once on a duplicate race)."""
    for attempt in (1, 2):
        try:
            with database.session() as db:
                return _ingest_once(db, org_id, batches)
        except IntegrityError:
            if attempt == 2:
                raise
            log.info("concurrent delivery of the same message; retrying the batch")
    raise AssertionError("unreachable")
