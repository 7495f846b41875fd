"""WhatsApp connection settings and agents' file uploads, over plain HTTP so secrets and files never enter
websocket state. Both answer JSON for the page's fetch."""

from __future__ import annotations

import logging

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pkcrm_app.channels.whatsapp import connection
from pkcrm_app.core.db import get_database
from pkcrm_app.core.errors import InvalidInput
from pkcrm_app.http.deps import NO_STORE, client_ip, current_actor, device_of, in_transaction
from pkcrm_app.http.forms import FORM_OVERHEAD, BodyTooLarge, FileTooLarge, read_form
from pkcrm_app.http.routing import JSON_ONLY, post
from pkcrm_app.http.webhook import number_directory
from pkcrm_app.inbox.outbox import files as outbound_media
from pkcrm_app.inbox.outbox import service as outbox

log = logging.getLogger("pkcrm.whatsapp")


def _int(value: str, what: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not value.isdigit():
        raise InvalidInput(f"{what} must be a whole number")
    return int(value)


async def save_route(request: Request) -> Response:
    """POST /settings/whatsapp/save: add or change a number; secrets are write-only and need a step-up."""
    form = {key: str(value) for key, value in (await read_form(request)).items() if isinstance(value, str)}
    actor = await current_actor(request)
    ip, device = client_ip(request), device_of(request)
    saved = await in_transaction(lambda db: connection.save_number(
        db, actor, number_id=_int(form.get("number_id", ""), "the number"),
        phone_number_id=form.get("phone_number_id", ""), business_account_id=form.get("business_account_id", ""),
        display_phone_number=form.get("display_phone_number", ""), access_token=form.get("access_token", ""),
        app_secret=form.get("app_secret", ""), verify_token=form.get("verify_token", ""),
        messages_per_second=_int(form.get("messages_per_second", ""), "messages per second"), ip=ip, device=device))
    number_directory().invalidate()  # the webhook sees a new app secret or verify token at once
    return JSONResponse({"ok": True, "next": f"/settings/whatsapp?done=saved&number={saved.id}"}, headers=NO_STORE)


async def upload_route(request: Request) -> Response:
    """POST /messages/media (multipart: lead_id, file, caption): an agent sends a file from the pane."""
    actor = await current_actor(request)  # before reading a byte of the file
    try:  # counted as it streams: a chunked upload states no length to check first
        form = await read_form(request, max_bytes=outbound_media.MAX_BYTES + FORM_OVERHEAD, max_files=1)
    except BodyTooLarge:
        raise FileTooLarge("WhatsApp accepts files up to 100 MB (images 5 MB, audio and video 16 MB)") from None
    upload, lead = form.get("file"), str(form.get("lead_id") or "")
    try:
        if not isinstance(upload, UploadFile) or not lead.isdigit():
            raise InvalidInput("choose a file to send")
        data = await upload.read(outbound_media.MAX_BYTES + 1)
        mime, filename = upload.content_type or "application/octet-stream", upload.filename or "file"
        caption = str(form.get("caption") or "")
        message_id = await in_transaction(lambda db: outbox.send_media(
            get_database(), db, actor, int(lead), data=data, mime_type=mime, filename=filename, caption=caption).id)
    finally:
        await form.close()
    return JSONResponse({"ok": True, "message_id": message_id}, headers=NO_STORE)


ROUTES: list[Route] = [
    post("/settings/whatsapp/save", save_route, refusals=JSON_ONLY),
    post("/messages/media", upload_route, refusals=JSON_ONLY),
]
