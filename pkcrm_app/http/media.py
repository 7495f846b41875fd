"""GET /media/{message_id}: a stored WhatsApp file, only for a signed-in member who may see its conversation."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pkcrm_app.core.errors import DomainError, NotFound
from pkcrm_app.http.deps import current_actor, in_transaction
from pkcrm_app.http.routing import get
from pkcrm_app.inbox.media.access import open_media

INLINE_KINDS = {"image", "video", "audio", "sticker"}


def content_disposition(kind: str, filename: str) -> str:
    """Inline for what the pane plays or shows, a download under its own name for documents."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in filename) or "file"
    return f"{'inline' if kind in INLINE_KINDS else 'attachment'}; filename=\"{fallback}\"; " \
           f"filename*=UTF-8''{quote(filename, safe='')}"


async def media_route(request: Request) -> Response:
    actor = await current_actor(request)
    try:
        message_id = int(request.path_params["message_id"])
        if not 0 < message_id < 2**31:
            raise ValueError(message_id)
        media = await in_transaction(open_media, actor, message_id)
    except (ValueError, DomainError):  # whatever the reason, a file this member may not have does not exist
        raise NotFound("not found") from None
    return Response(media.data, media_type=media.mime_type, headers={
        "Content-Disposition": content_disposition(media.kind, media.filename),
        "Cache-Control": "private, max-age=3600",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
    })


ROUTES: list[Route] = [get("/media/{message_id}", media_route)]
