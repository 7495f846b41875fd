"""Reading a stored media file: only for a member who may see the conversation it belongs to."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from pkcrm_app.core.authz import Actor, Permission
from pkcrm_app.core.errors import NotFound
from pkcrm_app.core.keyring import keyring_for
from pkcrm_app.crm.models import Lead
from pkcrm_app.crm.service import visible_leads
from pkcrm_app.inbox.media.downloads import MEDIA, media_key
from pkcrm_app.inbox.models import Conversation, MediaState, Message, MessageMedia
from pkcrm_app.storage.backend import BlobNotFound
from pkcrm_app.storage.store import blob_store

EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "video/mp4": ".mp4",
              "video/3gpp": ".3gp", "audio/ogg": ".ogg", "audio/mpeg": ".mp3", "audio/mp4": ".m4a",
              "audio/aac": ".aac", "audio/amr": ".amr", "application/pdf": ".pdf"}


@dataclass(frozen=True)
class MediaFile:
    data: bytes
    mime_type: str
    filename: str
    kind: str


def open_media(db: Session, actor: Actor, message_id: int) -> MediaFile:
    """The decrypted file of a message in a conversation the actor may see; NotFound for anything else."""
    actor.require(Permission.CONVERSATION_VIEW)
    may_see = exists().where(Lead.contact_id == Conversation.contact_id, visible_leads(db, actor))
    row = db.execute(
        select(MessageMedia, Message.content)
        .join(Message, Message.id == MessageMedia.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(MessageMedia.message_id == message_id, MessageMedia.org_id == actor.org_id,
               Message.org_id == actor.org_id, Conversation.org_id == actor.org_id, may_see)
    ).first()
    if row is None or row[0].state != MediaState.STORED:
        raise NotFound("file not found")
    media, content = row
    try:
        data = blob_store(keyring_for(db.get_bind().dialect)).get(media.org_id, MEDIA, media_key(media.message_id))
    except BlobNotFound:
        raise NotFound("file not found") from None
    name = (content or {}).get("filename") if isinstance(content, dict) else None
    filename = name or f"{media.kind}-{media.message_id}{EXTENSIONS.get(media.mime_type, '')}"
    return MediaFile(data=data, mime_type=media.mime_type or "application/octet-stream", filename=filename,
                     kind=media.kind)
