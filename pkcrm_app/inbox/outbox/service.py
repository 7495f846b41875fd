"""What agents send: text, media, templates and quick-reply buttons, each queued in the outbox.

The outbound message and its outbox row are written in one transaction, so a message is never shown as
pending without something to send it, nor sent without being shown. Free-form sends need the 24-hour
customer-service window to be open (the customer's last message less than 24 h ago); templates do not.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pkcrm_app.channels.whatsapp import templates
from pkcrm_app.channels.whatsapp.models import WhatsAppNumber
from pkcrm_app.core.authz import Actor, Permission
from pkcrm_app.core.db import Database, utcnow
from pkcrm_app.core.errors import InvalidInput, NotFound
from pkcrm_app.core.events import MessagesChanged, emit_on_commit
from pkcrm_app.crm.models import Contact
from pkcrm_app.crm.service import get_lead
from pkcrm_app.inbox.inbound import NewestMessage, note_messages
from pkcrm_app.inbox.models import Conversation, Direction, Message, MessageStatus
from pkcrm_app.inbox.outbox import files as outbound_media
from pkcrm_app.inbox.outbox.models import OutboxItem, OutboxState

WINDOW = timedelta(hours=24)
TEXT_LIMIT = 4096
PENDING_PREFIX = "out:"  # wa_message_id of an outbound message until the Cloud API names it


@dataclass(frozen=True)
class WindowView:
    """The customer-service window of a conversation, as the reply box shows it."""

    open: bool
    seconds_left: int
    closes_at: datetime | None
    conversation_id: int | None = None  # what live message events name


def window_of(conversation: Conversation | None, now: datetime | None = None) -> WindowView:
    last = conversation.last_inbound_at if conversation is not None else None
    conversation_id = conversation.id if conversation is not None else None
    if last is None:
        return WindowView(False, 0, None, conversation_id)
    closes = last + WINDOW
    left = int((closes - (now or utcnow())).total_seconds())
    return WindowView(left > 0, max(left, 0), closes, conversation_id)


@dataclass
class _Target:
    contact: Contact
    conversation: Conversation
    number: WhatsAppNumber


def _target(db: Session, actor: Actor, lead_id: int) -> _Target:
    actor.require(Permission.CONVERSATION_VIEW)
    lead = get_lead(db, actor, lead_id)
    contact = db.get_one(Contact, lead.contact_id)
    number = db.scalar(select(WhatsAppNumber).where(WhatsAppNumber.org_id == actor.org_id)
                       .order_by(WhatsAppNumber.id).limit(1))
    if number is None:
        raise InvalidInput("no WhatsApp number is connected: an admin can add one in Settings → WhatsApp")
    conversation = db.scalar(select(Conversation).where(Conversation.org_id == actor.org_id,
                                                        Conversation.contact_id == contact.id))
    if conversation is None:
        conversation = Conversation(org_id=actor.org_id, contact_id=contact.id, unread_count=0)
        db.add(conversation)
        db.flush()
    return _Target(contact, conversation, number)


def conversation_window(db: Session, actor: Actor, lead_id: int) -> WindowView:
    actor.require(Permission.CONVERSATION_VIEW)
    lead = get_lead(db, actor, lead_id)
    return window_of(db.scalar(select(Conversation).where(Conversation.org_id == actor.org_id,
                                                          Conversation.contact_id == lead.contact_id)))


def _require_window(target: _Target) -> None:
    if not window_of(target.conversation).open:
        raise InvalidInput("The 24-hour window is closed: the customer has not written in the last 24 hours, "
                           "so WhatsApp only allows an approved template.")


def _enqueue(
    db: Session, actor: Actor, target: _Target, *, kind: str, body: str, cloud: dict[str, Any],
    key: str | None = None, media_path: str | None = None, media_type: str | None = None,
    content: dict[str, Any] | None = None,
) -> Message:
    """The message and its outbox row, in the caller's transaction (the caller commits; the sender wakes then)."""
    key = key or secrets.token_hex(16)
    now = utcnow()
    to = target.contact.wa_id
    payload = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": kind,
               kind: cloud, "biz_opaque_callback_data": key}
    message = Message(org_id=actor.org_id, conversation_id=target.conversation.id,
                      wa_message_id=PENDING_PREFIX + key, direction=Direction.OUTBOUND, type=kind, body=body,
                      raw_payload=payload, status=MessageStatus.PENDING, author_user_id=actor.user_id, sent_at=now,
                      content=content)
    db.add(message)
    db.flush()
    db.add(OutboxItem(org_id=actor.org_id, message_id=message.id, number_id=target.number.id, idempotency_key=key,
                      payload=payload, media_path=media_path, media_type=media_type,
                      state=OutboxState.QUEUED, next_attempt_at=now))
    note_messages(db, [NewestMessage(target.conversation, now, body or f"[{kind}]")])
    emit_on_commit(db, MessagesChanged(org_id=actor.org_id, conversation_ids=(target.conversation.id,),
                                       message_ids=(message.id,)))
    return message


def send_text(db: Session, actor: Actor, lead_id: int, text: str) -> Message:
    text = text.strip()
    if not text:
        raise InvalidInput("write a message first")
    if len(text) > TEXT_LIMIT:
        raise InvalidInput(f"a WhatsApp message holds at most {TEXT_LIMIT} characters")
    target = _target(db, actor, lead_id)
    _require_window(target)
    return _enqueue(db, actor, target, kind="text", body=text, cloud={"body": text, "preview_url": "http" in text})


def send_buttons(db: Session, actor: Actor, lead_id: int, text: str, buttons: list[str]) -> Message:
    """An interactive message with up to three reply buttons (titles of at most 20 characters)."""
    titles = [b.strip() for b in buttons if b.strip()]
    if not text.strip() or not titles:
        raise InvalidInput("quick replies need a question and at least one button")
    if len(titles) > 3 or any(len(t) > 20 for t in titles) or len(set(titles)) < len(titles):
        raise InvalidInput("at most 3 different buttons, each at most 20 characters")
    target = _target(db, actor, lead_id)
    _require_window(target)
    cloud = {"type": "button", "body": {"text": text.strip()},
             "action": {"buttons": [{"type": "reply", "reply": {"id": f"b{i + 1}", "title": t}}
                                    for i, t in enumerate(titles)]}}
    return _enqueue(db, actor, target, kind="interactive", body=text.strip(), cloud=cloud,
                    content={"kind": "reply_buttons", "body": text.strip(), "buttons": titles})


def send_template(db: Session, actor: Actor, lead_id: int, template_id: int) -> Message:
    """An approved template, its variables filled from the contact; allowed with the window closed."""
    target = _target(db, actor, lead_id)
    template = templates.get_template(db, actor, template_id)
    if template.status != "APPROVED":
        raise InvalidInput(f"the template {template.name} is {template.status.lower()}, not approved")
    text, parameters = templates.fill(template, target.contact.merge_fields())
    return _enqueue(db, actor, target, kind="template", body=text,
                    cloud=templates.cloud_payload(template, parameters),
                    content={"name": template.name, "language": template.language})


def send_media(
    database: Database, db: Session, actor: Actor, lead_id: int, *, data: bytes, mime_type: str, filename: str,
    caption: str = "",
) -> Message:
    """An image, video, audio or document file; kept encrypted until the sender uploads it."""
    kind = outbound_media.check(mime_type, len(data))
    outbound_media.prepare(database, actor.org_id)
    target = _target(db, actor, lead_id)
    _require_window(target)
    key = secrets.token_hex(16)
    path = outbound_media.store(database, actor.org_id, key, data)
    cloud: dict[str, Any] = {}
    if caption.strip() and kind != "audio":
        cloud["caption"] = caption.strip()[:1024]
    if kind == "document":
        cloud["filename"] = filename[:240] or "document"
    return _enqueue(db, actor, target, kind=kind, body=caption.strip() or f"[{kind}: {filename}]", cloud=cloud,
                    key=key, media_path=path, media_type=mime_type.split(";")[0].strip().lower(),
                    content={"caption": caption.strip(), "filename": filename, "mime_type": mime_type})


def resend(db: Session, actor: Actor, lead_id: int, message_id: int) -> Message:
    """Queue a failed message again (the agent's decision, e.g. after an unconfirmed send)."""
    actor.require(Permission.CONVERSATION_VIEW)
    lead = get_lead(db, actor, lead_id)
    item = db.scalar(select(OutboxItem).where(OutboxItem.message_id == message_id, OutboxItem.org_id == actor.org_id))
    message = db.get(Message, message_id)
    conversation = db.get(Conversation, message.conversation_id) if message is not None else None
    if item is None or message is None or conversation is None or conversation.contact_id != lead.contact_id:
        raise NotFound("that message is not in this conversation's outbox")
    if item.state != OutboxState.FAILED:
        raise InvalidInput("only a failed message can be sent again")
    if message.type != "template" and not window_of(conversation).open:
        raise InvalidInput("The 24-hour window is closed: send an approved template instead.")
    key = secrets.token_hex(16)  # a new attempt at Meta's side: a new key, so receipts are not mixed up
    item.idempotency_key, item.payload = key, {**item.payload, "biz_opaque_callback_data": key}
    item.state, item.attempts, item.next_attempt_at, item.last_error = OutboxState.QUEUED, 0, utcnow(), None
    message.status, message.error, message.wa_message_id = MessageStatus.PENDING, None, PENDING_PREFIX + key
    emit_on_commit(db, MessagesChanged(org_id=actor.org_id, conversation_ids=(conversation.id,),
                                       message_ids=(message.id,)))
    return message
