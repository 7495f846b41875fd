"""The one way a route reads a form: the body is counted while it streams and refused past a limit.

Starlette's `request.form()` reads whatever arrives (a urlencoded body whole, in memory; file parts spooled to
disk without end), and a chunked request states no length to check first. Here the declared length is checked
before reading, and the bytes that actually arrive are counted as they come, so neither a 100 MB sign-in form
nor an endless chunked upload costs more than the route's limit. A refusal is BodyTooLarge, which the app
answers with 413 and a plain sentence (JSON for the pages' fetch calls).
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Message

from pkcrm_app.core.errors import InvalidInput

FORM_MAX_BYTES = 64 * 1024  # every form without a file: sign-in, sign-up, codes, settings
FORM_OVERHEAD = 64 * 1024  # beside an uploaded file: the other fields and the multipart boundaries


class BodyTooLarge(Exception):
    """The request body is (or grew) larger than the route accepts."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request is too large: this form accepts at most {_size(limit)}.")
        self.limit = limit


class FileTooLarge(InvalidInput):
    """An uploaded file is over what its route accepts (answered 413 by the DomainError handler)."""


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{max(1, limit // 1024)} KB"


async def read_form(request: Request, *, max_bytes: int = FORM_MAX_BYTES, max_files: int = 0,
                    max_fields: int = 32) -> FormData:
    """The request's form, read within `max_bytes` (declared or not); BodyTooLarge past it."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.strip().isdigit() or int(declared) > max_bytes):
        raise BodyTooLarge(max_bytes)
    received = 0
    receive = request.receive

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > max_bytes:
                raise BodyTooLarge(max_bytes)
        return message

    bounded = Request(request.scope, counted)
    return await bounded.form(max_files=max_files, max_fields=max_fields, max_part_size=max_bytes)


async def body_too_large(request: Request, exc: Exception) -> Response:
    """The app's answer to BodyTooLarge: 413, in the shape the caller reads (JSON for the pages' fetch calls)."""
    message = str(exc)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"ok": False, "error": message}, status_code=413)
    return PlainTextResponse(message, status_code=413)
