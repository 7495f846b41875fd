"""WhatsApp connection settings and agents' file uploads, over plain HTTP so secrets and files never enter
websocket state. Both answer JSON for the page's fetch."""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pkcrm_app.accounts.identity import service as accounts
from pkcrm_app.accounts.identity.cookies import SESSION_COOKIE
from pkcrm_app.channels.whatsapp import connection
from pkcrm_app.core.db import get_database
from pkcrm_app.core.errors import DomainError, InvalidInput, NotFound, PermissionDenied, StepUpRequired
from pkcrm_app.http.auth import client_ip, cross_site_refused, same_origin
from pkcrm_app.http.forms import FORM_OVERHEAD, BodyTooLarge, read_form
from pkcrm_app.http.webhook import number_directory
from pkcrm_app.inbox.outbox import files as outbound_media
from pkcrm_app.inbox.outbox import service as outbox

log = logging.getLogger("pkcrm.whatsapp")
NO_STORE = {"Cache-Control": "no-store"}


class SignedOut(DomainError):
    """No live session behind the request."""


def _refusal(exc: DomainError, *, status: int | None = None) -> JSONResponse:
    if isinstance(exc, SignedOut):
        return JSONResponse({"ok": False, "error": "sign in first", "next": "/login"}, status_code=401,
                            headers=NO_STORE)
    status = status or (403 if isinstance(exc, PermissionDenied) else 404 if isinstance(exc, NotFound) else 400)
    return JSONResponse({"ok": False, "error": str(exc), "step_up": isinstance(exc, StepUpRequired)},
                        status_code=status, headers=NO_STORE)


def _int(value: str, what: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not value.isdigit():
        raise InvalidInput(f"{what} must be a whole number")
    return int(value)


def _save(token: str | None, form: dict[str, str], ip: str, device: str) -> str:
    with get_database().session() as db:
        info = accounts.resolve_session(db, token)
        if info is None:
            raise SignedOut()
        saved = connection.save_number(
            db, info.actor, number_id=_int(form.get("number_id", ""), "the number"),
            phone_number_id=form.get("phone_number_id", ""), business_account_id=form.get("business_account_id", ""),
            display_phone_number=form.get("display_phone_number", ""), access_token=form.get("access_token", ""),
            app_secret=form.get("app_secret", ""), verify_token=form.get("verify_token", ""),
            messages_per_second=_int(form.get("messages_per_second", ""), "messages per second"),
            ip=ip, device=device)
    number_directory().invalidate()  # the webhook sees a new app secret or verify token at once
    return f"/settings/whatsapp?done=saved&number={saved.id}"


async def save_route(request: Request) -> Response:
    """POST /settings/whatsapp/save: add or change a number; secrets are write-only and need a step-up."""
    if not same_origin(request):
        return cross_site_refused()
    form = {key: str(value) for key, value in (await read_form(request)).items() if isinstance(value, str)}
    try:
        next_url = await run_in_threadpool(_save, request.cookies.get(SESSION_COOKIE), form, client_ip(request),
                                           request.headers.get("user-agent", ""))
    except DomainError as exc:
        return _refusal(exc)
    return JSONResponse({"ok": True, "next": next_url}, headers=NO_STORE)


def _signed_in(token: str | None) -> bool:
    with get_database().session() as db:
        return accounts.resolve_session(db, token) is not None


def _send_file(token: str | None, lead_id: int, data: bytes, mime: str, filename: str, caption: str) -> int:
    database = get_database()
    with database.session() as db:
        info = accounts.resolve_session(db, token)
        if info is None:
            raise SignedOut()
        return outbox.send_media(database, db, info.actor, lead_id, data=data, mime_type=mime, filename=filename,
                                 caption=caption).id


async def upload_route(request: Request) -> Response:
    """POST /messages/media (multipart: lead_id, file, caption): an agent sends a file from the pane."""
    if not same_origin(request):
        return cross_site_refused()
    if not await run_in_threadpool(_signed_in, request.cookies.get(SESSION_COOKIE)):
        return _refusal(SignedOut())  # before reading a byte of the file
    try:  # counted as it streams: a chunked upload states no length to check first
        form = await read_form(request, max_bytes=outbound_media.MAX_BYTES + FORM_OVERHEAD, max_files=1)
    except BodyTooLarge:
        return _refusal(InvalidInput("WhatsApp accepts files up to 100 MB (images 5 MB, audio and video 16 MB)"),
                        status=413)
    upload, lead = form.get("file"), str(form.get("lead_id") or "")
    try:
        if not isinstance(upload, UploadFile) or not lead.isdigit():
            raise InvalidInput("choose a file to send")
        data = await upload.read(outbound_media.MAX_BYTES + 1)
        message_id = await run_in_threadpool(
            _send_file, request.cookies.get(SESSION_COOKIE), int(lead), data,
            upload.content_type or "application/octet-stream", upload.filename or "file",
            str(form.get("caption") or ""))
    except DomainError as exc:
        return _refusal(exc)
    finally:
        await form.close()
    return JSONResponse({"ok": True, "message_id": message_id}, headers=NO_STORE)
