"""What people do with conversations: read a lead's thread, one page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from pkcrm_app.accounts.permissions import Actor, Permission
from pkcrm_app.core.events import DomainEvent, emit_on_commit
from pkcrm_app.crm.models import Contact, Stage
from pkcrm_app.crm.service import get_lead
from pkcrm_app.inbox.models import Conversation, Direction, Message, MessageStatus


@dataclass(frozen=True)
class MessageView:
    message_id: int
    direction: Direction
    text: str
    supported: bool
    sent_at: datetime
    status: MessageStatus
    error: str


@dataclass(frozen=True)
class ThreadView:
    lead_id: int
    contact_name: str
    phone: str
    stage_id: int
    stage_name: str
    total_messages: int
    messages: list[MessageView]


def render_text(message: Message) -> tuple[str, bool]:
    """What the pane shows for a message, and whether its type is rendered in full yet."""
    if message.type == "text":
        return message.body or "", True
    return f"unsupported type {message.type}", False


def _error_text(error: object) -> str:
    if isinstance(error, list) and error and isinstance(error[0], dict):
        first = error[0]
        return f"{first.get('code', '')} {first.get('title', '')}".strip()
    return ""


def lead_thread(db: Session, actor: Actor, lead_id: int, *, limit: int = 50) -> ThreadView:
    """The newest `limit` messages of the lead's conversation, oldest first."""
    actor.require(Permission.CONVERSATION_VIEW)
    lead = get_lead(db, actor, lead_id)
    contact = db.get_one(Contact, lead.contact_id)
    stage = db.get_one(Stage, lead.stage_id)
    conversation_id = db.scalar(
        select(Conversation.id).where(Conversation.org_id == actor.org_id, Conversation.contact_id == contact.id)
    )
    messages: list[Message] = []
    total = 0
    if conversation_id is not None:
        total = db.scalar(select(func.count()).where(Message.conversation_id == conversation_id)) or 0
        messages = list(db.scalars(
            select(Message).where(Message.conversation_id == conversation_id, Message.org_id == actor.org_id)
            .order_by(Message.sent_at.desc(), Message.id.desc()).limit(limit)
        ))
    views = []
    for message in reversed(messages):
        text, supported = render_text(message)
        views.append(MessageView(message_id=message.id, direction=message.direction, text=text,
                                 supported=supported, sent_at=message.sent_at, status=message.status,
                                 error=_error_text(message.error)))
    return ThreadView(lead_id=lead.id, contact_name=contact.name or contact.phone_e164 or contact.wa_id,
                      phone=contact.phone_e164 or contact.wa_id, stage_id=stage.id, stage_name=stage.name,
                      total_messages=total, messages=views)


def mark_read(db: Session, actor: Actor, lead_id: int) -> None:
    """Clear the unread badge of the lead's conversation."""
    actor.require(Permission.CONVERSATION_VIEW)
    lead = get_lead(db, actor, lead_id)
    result = db.execute(
        update(Conversation)
        .where(Conversation.org_id == actor.org_id, Conversation.contact_id == lead.contact_id,
               Conversation.unread_count > 0)
        .values(unread_count=0)
    )
    if getattr(result, "rowcount", 0):
        emit_on_commit(db, DomainEvent(actor.org_id, "leads", (lead.id,)))
