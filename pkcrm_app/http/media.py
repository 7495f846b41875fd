"""GET /media/{message_id}: a stored WhatsApp file, only for a signed-in member who may see its conversation."""

from __future__ import annotations

from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from pkcrm_app.accounts.identity.cookies import SESSION_COOKIE
from pkcrm_app.accounts.identity.service import resolve_session
from pkcrm_app.core.authz import Actor
from pkcrm_app.core.db import get_database
from pkcrm_app.core.errors import DomainError
from pkcrm_app.inbox.media.access import MediaFile, open_media

INLINE_KINDS = {"image", "video", "audio", "sticker"}


def _actor(token: str | None) -> Actor | None:
    with get_database().session() as db:
        info = resolve_session(db, token)
        return info.actor if info else None


def _open(actor: Actor, message_id: int) -> MediaFile:
    with get_database().session() as db:
        return open_media(db, actor, message_id)


def content_disposition(kind: str, filename: str) -> str:
    """Inline for what the pane plays or shows, a download under its own name for documents."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in filename) or "file"
    return f"{'inline' if kind in INLINE_KINDS else 'attachment'}; filename=\"{fallback}\"; " \
           f"filename*=UTF-8''{quote(filename, safe='')}"


async def media_route(request: Request) -> Response:
    actor = await run_in_threadpool(_actor, request.cookies.get(SESSION_COOKIE))
    if actor is None:
        return PlainTextResponse("sign in first", status_code=401)
    try:
        message_id = int(request.path_params["message_id"])
        if not 0 < message_id < 2**31:
            raise ValueError(message_id)
        media = await run_in_threadpool(_open, actor, message_id)
    except (ValueError, DomainError):
        return PlainTextResponse("not found", status_code=404)
    return Response(media.data, media_type=media.mime_type, headers={
        "Content-Disposition": content_disposition(media.kind, media.filename),
        "Cache-Control": "private, max-age=3600",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
    })
