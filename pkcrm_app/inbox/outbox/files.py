"""Files agents send: the Cloud API's type and size limits, and encrypted storage until the upload."""

from __future__ import annotations

from pathlib import Path

from pkcrm_app.core.db import Database
from pkcrm_app.core.errors import InvalidInput
from pkcrm_app.settings import get_settings

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


def media_dir() -> Path:
    return get_settings().instance_dir / "outbound-media"


def store(database: Database, key: str, data: bytes) -> str:
    """Keep the file encrypted under the instance folder; returns its path (relative to it)."""
    folder = media_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{key}.bin"
    path.write_bytes(database.keyring.encrypt(data))
    return str(path.relative_to(get_settings().instance_dir))


def load(database: Database, relative: str) -> bytes:
    return database.keyring.decrypt((get_settings().instance_dir / relative).read_bytes())
