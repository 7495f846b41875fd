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
from starlette.responses import Response
from starlette.routing import Route

from pkcrm_app.core.authz import Actor, Permission
from pkcrm_app.core.db import get_database
from pkcrm_app.core.errors import DomainError, InvalidInput, PermissionDenied
from pkcrm_app.http.deps import client_ip, current_actor, follow, in_transaction
from pkcrm_app.http.forms import FORM_OVERHEAD, BodyTooLarge, FileTooLarge, read_form
from pkcrm_app.http.routing import post
from pkcrm_app.imports import spool
from pkcrm_app.imports.importer import run_in_background, start_import
from pkcrm_app.settings import get_settings

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024


class TooLarge(Exception):
    pass


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


async def _queue(actor: Actor, key: str, filename: str, size: int, phone: str, my_name: str, ip: str,
                 device: str) -> int:
    """Queue the import (committed), then start it in the background; the spooled upload goes when refused."""
    database = get_database()
    try:
        job_id = await in_transaction(lambda db: start_import(
            db, actor, spool_path=key, filename=filename, size=size, contact_phone=phone, my_name=my_name,
            ip_address=ip, device=device).id)
    except DomainError:
        spool.discard(database, actor.org_id, key)
        raise
    run_in_background(database, job_id)
    return job_id


async def upload_route(request: Request) -> Response:
    actor = await current_actor(request)
    if not actor.can(Permission.CONVERSATION_VIEW):
        raise PermissionDenied("your role may not import conversations")
    limit = get_settings().import_max_bytes
    too_big = f"the file is over the {limit // (1024 * 1024)} MB limit"
    try:  # counted as it streams: a chunked upload (no Content-Length) is refused at the limit too
        form = await read_form(request, max_bytes=limit + FORM_OVERHEAD, max_files=1, max_fields=8)
    except BodyTooLarge:
        raise FileTooLarge(too_big) from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput("choose a WhatsApp export (.txt or .zip) to upload")
        try:
            key, size = await run_in_threadpool(_spool, actor.org_id, upload.file, limit)
        except TooLarge:
            raise FileTooLarge(too_big) from None
        fields = {k: str(form.get(k) or "")[:200] for k in ("phone", "my_name")}
        job_id = await _queue(actor, key, Path(upload.filename).name, size, fields["phone"], fields["my_name"],
                              client_ip(request), request.headers.get("user-agent", "")[:400])
    finally:
        await form.close()
    return follow(request, f"/import?job={job_id}")


ROUTES: list[Route] = [post("/import/upload", upload_route)]
