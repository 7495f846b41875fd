"""Files agents send: the Cloud API's type and size limits, and encrypted storage until the upload.

They are blobs of the organisation (scope `outbound-media`), so they go with it. Files queued before the blob
store kept a path under `instance/outbound-media/` (outside any organisation's folder); those are still read.
"""

from __future__ import annotations

from pkcrm_app.core.db import Database
from pkcrm_app.core.errors import InvalidInput
from pkcrm_app.settings import get_settings
from pkcrm_app.storage.store import BlobScope, blob_store

OUTBOUND_MEDIA = BlobScope("outbound-media")

MB = 1024 * 1024
# Cloud API limits for outbound media (developers.facebook.com .../business-phone-numbers/media, supported types).
LIMITS: dict[str, tuple[int, frozenset[str]]] = {
    "image": (5 * MB, frozenset({"image/jpeg", "image/png"})),
    "video": (16 * MB, frozenset({"video/mp4", "video/3gpp"})),
    "audio": (16 * MB, frozenset({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"})),
    "document": (100 * MB, frozenset({
        "text/plain", "application/pdf", "application/vnd.ms-powerpoint", "application/msword",
        "application/vnd.ms-excel", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})),
}
MAX_BYTES = max(limit for limit, _ in LIMITS.values())


def kind_of(mime_type: str) -> str:
    """The Cloud API message type for a file, or InvalidInput naming what is accepted."""
    mime = mime_type.split(";")[0].strip().lower()
    for kind, (_, types) in LIMITS.items():
        if mime in types:
            return kind
    raise InvalidInput(f"WhatsApp cannot send files of type {mime or 'unknown'}: send JPEG/PNG images, MP4 video, "
                       "AAC/MP3/OGG/AMR audio, or PDF/Office/text documents")


def check(mime_type: str, size: int) -> str:
    kind = kind_of(mime_type)
    limit = LIMITS[kind][0]
    if size <= 0:
        raise InvalidInput("the file is empty")
    if size > limit:
        raise InvalidInput(f"WhatsApp accepts {kind} files up to {limit // MB} MB; this one is {size / MB:.1f} MB")
    return kind


def prepare(database: Database, org_id: int) -> None:
    """The organisation's key, loaded before the send's write transaction (see BlobStore.prepare)."""
    blob_store(database.keyring).prepare(org_id)


def store(database: Database, org_id: int, key: str, data: bytes) -> str:
    """Keep the file encrypted with the organisation's key until the upload; returns its blob key."""
    name = f"{key}.bin"
    blob_store(database.keyring).put(org_id, OUTBOUND_MEDIA, name, data)
    return name


def load(database: Database, org_id: int, media_path: str) -> bytes:
    if "/" in media_path:  # queued before the blob store: a path under the instance folder, legacy key
        return database.keyring.decrypt((get_settings().instance_dir / media_path).read_bytes())
    return blob_store(database.keyring).get(org_id, OUTBOUND_MEDIA, media_path)
