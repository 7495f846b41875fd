"""What people do with conversations: read a lead's thread, one page at a time."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from pkcrm_app.core.authz import Actor, Permission
from pkcrm_app.core.events import ConversationRead, emit_on_commit
from pkcrm_app.crm.models import Contact, Stage
from pkcrm_app.crm.service import get_lead
from pkcrm_app.inbox.models import Conversation, Direction, MediaState, Message, MessageMedia, MessageStatus
from pkcrm_app.inbox.rendering import map_url, referral_label, render, size_label

MEDIA_KINDS = ("image", "video", "audio", "document", "sticker")
FORWARDED = {"forwarded": "↪ Forwarded", "frequently": "↪↪ Forwarded many times"}


@dataclass(frozen=True)
class MessageView:
    message_id: int
    direction: Direction
    text: str
    supported: bool
    sent_at: datetime
    status: MessageStatus
    error: str
    kind: str = "text"  # the Cloud API message type
    quote: str = ""  # the quoted message (a reply), shown above the bubble
    forwarded: str = ""
    reactions: str = ""  # emojis put on this message, shown on it
    referral: str = ""
    map_url: str = ""
    media_url: str = ""  # the authenticated /media/{id} route, once the file is stored
    media_note: str = ""  # "Downloading…" or why the file could not be fetched
    file_label: str = ""  # a document's name and size


@dataclass(frozen=True)
class ThreadView:
    lead_id: int
    contact_name: str
    phone: str
    stage_id: int
    stage_name: str
    total_messages: int
    messages: list[MessageView]
    conversation_id: int | None = None  # what live message events name


def render_text(message: Message) -> tuple[str, bool]:
    """What the pane shows for a message, and whether its type is rendered in full."""
    return render(message.type, message.body, message.content)


def _reactions(db: Session, conversation_id: int, targets: set[str]) -> dict[str, str]:
    """The emojis on each target message: each side's latest reaction counts, an empty one removes it."""
    latest: dict[tuple[str, Direction], str] = {}
    for reacts_to, direction, content in db.execute(
        select(Message.reacts_to, Message.direction, Message.content)
        .where(Message.conversation_id == conversation_id, Message.type == "reaction",
               Message.reacts_to.in_(targets))
        .order_by(Message.sent_at, Message.id)
    ):
        emoji = content.get("emoji", "") if isinstance(content, dict) else ""
        latest[(reacts_to, direction)] = emoji
    shown: dict[str, str] = defaultdict(str)
    for (target, _direction), emoji in sorted(latest.items()):
        shown[target] += emoji
    return shown


def _quotes(db: Session, org_id: int, conversation_id: int, wamids: set[str]) -> dict[str, str]:
    found = {}
    for wamid, direction, msg_type, body, content in db.execute(
        select(Message.wa_message_id, Message.direction, Message.type, Message.body, Message.content)
        .where(Message.org_id == org_id, Message.conversation_id == conversation_id,
               Message.wa_message_id.in_(wamids))
    ):
        who = "Customer" if direction == Direction.INBOUND else "You"
        found[wamid] = f"{who}: {render(msg_type, body, content)[0][:120]}"
    return found


def _media_parts(message: Message, media: MessageMedia | None) -> dict[str, str]:
    if message.type not in MEDIA_KINDS:
        return {}
    parts = {"file_label": ""}
    if message.type == "document":
        name = (message.content or {}).get("filename") or "Document"
        parts["file_label"] = " · ".join(filter(None, (name, size_label(media.size if media else None))))
    if media is None:
        parts["media_note"] = "No file came with this message"
    elif media.state == MediaState.STORED:
        parts["media_url"] = f"/media/{message.id}"
    elif media.state == MediaState.PENDING:
        parts["media_note"] = "Downloading the file…"
    else:
        parts["media_note"] = f"The file could not be fetched: {media.reason}"
    return parts


def _views(db: Session, org_id: int, conversation_id: int, messages: list[Message]) -> list[MessageView]:
    reactions = _reactions(db, conversation_id, {m.wa_message_id for m in messages})
    quotes = _quotes(db, org_id, conversation_id, {m.context_wamid for m in messages if m.context_wamid})
    media = {m.message_id: m for m in db.scalars(select(MessageMedia).where(
        MessageMedia.org_id == org_id, MessageMedia.message_id.in_([m.id for m in messages])))}
    views = []
    for message in messages:
        text, supported = render_text(message)
        quoted = message.context_wamid if message.context_wamid != message.wa_message_id else ""
        quote = quotes.get(quoted or "", "Replying to an earlier message") if message.context_wamid else ""
        views.append(MessageView(
            message_id=message.id, direction=message.direction, text=text, supported=supported,
            sent_at=message.sent_at, status=message.status, error=_error_text(message.error), kind=message.type,
            quote=quote, forwarded=FORWARDED.get(message.forwarded or "", ""),
            reactions=reactions.get(message.wa_message_id, ""), referral=referral_label(message.content),
            map_url=map_url(message.content) if message.type == "location" else "",
            **_media_parts(message, media.get(message.id)),
        ))
    return views


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
    total = 0
    views: list[MessageView] = []
    if conversation_id is not None:
        bubbles = (Message.conversation_id == conversation_id, Message.org_id == actor.org_id,
                   Message.type != "reaction")  # reactions show on the message they react to
        total = db.scalar(select(func.count()).where(*bubbles)) or 0
        messages = list(db.scalars(
            select(Message).where(*bubbles).order_by(Message.sent_at.desc(), Message.id.desc()).limit(limit)
        ))
        views = _views(db, actor.org_id, conversation_id, list(reversed(messages)))
    return ThreadView(lead_id=lead.id, contact_name=contact.name or contact.phone_e164 or contact.wa_id,
                      phone=contact.phone_e164 or contact.wa_id, stage_id=stage.id, stage_name=stage.name,
                      total_messages=total, messages=views, conversation_id=conversation_id)


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
        emit_on_commit(db, ConversationRead(org_id=actor.org_id, lead_id=lead.id))
