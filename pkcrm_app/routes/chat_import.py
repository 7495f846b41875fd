"""POST /import/upload: a WhatsApp chat export (.txt or .zip) for a signed-in member who may see conversations.

The multipart body is streamed to disk (Starlette spools file parts past 1 MB to a temporary file; we copy it
in chunks into the organisation's encrypted blob store), counted as it arrives and refused past
PKCRM_IMPORT_MAX_BYTES (with or without a Content-Length), then a job is queued for the job runner. The answer
names the /import page, where the job's progress shows live.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from pkcrm_app.accounts.identity.cookies import SESSION_COOKIE
from pkcrm_app.accounts.identity.service import resolve_session
from pkcrm_app.core.authz import Actor, Permission
from pkcrm_app.core.db import get_database
from pkcrm_app.core.errors import DomainError
from pkcrm_app.imports import spool
from pkcrm_app.imports.importer import run_in_background, start_import
from pkcrm_app.routes.auth import client_ip, cross_site_refused, follow, same_origin
from pkcrm_app.routes.forms import FORM_OVERHEAD, BodyTooLarge, read_form
from pkcrm_app.settings import get_settings

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024


class TooLarge(Exception):
    pass


def _actor(token: str | None) -> Actor | None:
    with get_database().session() as db:
        info = resolve_session(db, token)
        return info.actor if info else None


def _limited(source: IO[bytes], limit: int) -> Iterator[bytes]:
    """The upload in chunks; TooLarge past the limit (the store then keeps nothing)."""
    size = 0
    while chunk := source.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise TooLarge
        yield chunk


def _spool(org_id: int, source: IO[bytes], limit: int) -> tuple[str, int]:
    return spool.spool_upload(get_database(), org_id, _limited(source, limit))


def _queue(actor: Actor, key: str, filename: str, size: int, phone: str, my_name: str, ip: str,
           device: str) -> int:
    database = get_database()
    try:
        with database.session() as db:
            job = start_import(db, actor, spool_path=key, filename=filename, size=size, contact_phone=phone,
                               my_name=my_name, ip_address=ip, device=device)
            job_id = job.id
    except DomainError:
        spool.discard(database, actor.org_id, key)
        raise
    run_in_background(database, job_id)
    return job_id


def _refuse(request: Request, message: str, status: int) -> Response:
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"error": message}, status_code=status)
    return PlainTextResponse(message, status_code=status)


async def upload_route(request: Request) -> Response:
    if not same_origin(request):
        return cross_site_refused()
    actor = await run_in_threadpool(_actor, request.cookies.get(SESSION_COOKIE))
    if actor is None:
        return _refuse(request, "sign in first", 401)
    if not actor.can(Permission.CONVERSATION_VIEW):
        return _refuse(request, "your role may not import conversations", 403)
    limit = get_settings().import_max_bytes
    too_big = f"the file is over the {limit // (1024 * 1024)} MB limit"
    try:  # counted as it streams: a chunked upload (no Content-Length) is refused at the limit too
        form = await read_form(request, max_bytes=limit + FORM_OVERHEAD, max_files=1, max_fields=8)
    except BodyTooLarge:
        return _refuse(request, too_big, 413)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return _refuse(request, "choose a WhatsApp export (.txt or .zip) to upload", 400)
        try:
            key, size = await run_in_threadpool(_spool, actor.org_id, upload.file, limit)
        except TooLarge:
            return _refuse(request, too_big, 413)
        fields = {k: str(form.get(k) or "")[:200] for k in ("phone", "my_name")}
        try:
            job_id = await run_in_threadpool(_queue, actor, key, Path(upload.filename).name, size, fields["phone"],
                                             fields["my_name"], client_ip(request),
                                             request.headers.get("user-agent", "")[:400])
        except DomainError as exc:
            return _refuse(request, str(exc), 400)
    finally:
        await form.close()
    return follow(request, f"/import?job={job_id}")
