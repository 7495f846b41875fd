"""The one answer to a DomainError raised by any route, in the shape its caller reads.

- A page's fetch (or a route only fetches and the API call): JSON `{"ok": false, "error", "step_up"}` with a
  status saying what went wrong (401 with `"next": "/login"` when the session is gone).
- A plain form post of a route with a page: back to that page with `?error=<code>` (the page shows the
  fixed message outcomes.py holds for the code, never text from the address); signed out: to /login.
- Anything else (a file or image link): the message as plain text, with the same status.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from pkcrm_app.accounts.identity import outcomes
from pkcrm_app.core.errors import AuthenticationFailed, DomainError, NotFound, PermissionDenied, StepUpRequired
from pkcrm_app.http.deps import NO_STORE, SignedOut, follow, wants_json
from pkcrm_app.http.forms import FileTooLarge
from pkcrm_app.http.routing import Answer, Refusals

# Most specific first: a StepUpRequired is a PermissionDenied, a SignedOut needs a sign-in like a failed one.
STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (SignedOut, 401), (AuthenticationFailed, 401), (PermissionDenied, 403), (NotFound, 404), (FileTooLarge, 413),
)


def status_of(refusal: DomainError) -> int:
    return next((status for kind, status in STATUS if isinstance(refusal, kind)), 400)


def _page_of(request: Request, refusal: DomainError, refusals: Refusals) -> str | None:
    """The page a plain post goes back to (None: this refusal is answered in JSON or plain text)."""
    if refusals.page is None or refusals.answer is Answer.JSON:
        return None
    if refusals.answer is Answer.JSON_IF_ASKED and wants_json(request):
        return None
    if isinstance(refusal, SignedOut):
        return "/login"
    return f"{refusals.page}?error={quote(outcomes.code_for(refusal))}"


async def answer_refusal(request: Request, exc: Exception) -> Response:
    """Starlette's exception handler for DomainError (registered once in http/__init__.py)."""
    if not isinstance(exc, DomainError):  # pragma: no cover - registered for DomainError only
        raise exc
    refusals: Refusals = getattr(request.state, "refusals", Refusals())
    page = _page_of(request, exc, refusals)
    if page is not None:
        return follow(request, page)
    status = status_of(exc)
    if refusals.answer is Answer.JSON or wants_json(request):
        body: dict[str, Any] = {"ok": False, "error": str(exc)[:300], "step_up": isinstance(exc, StepUpRequired)}
        if status == 401:
            body["next"] = "/login"
        return JSONResponse(body, status_code=status, headers=NO_STORE)
    return PlainTextResponse(str(exc), status_code=status)
