"""How a route is declared: `get` and `post` put the same-origin check in front of every state-changing
request and tell the one DomainError handler (refusals.py) how this route answers a refusal."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

Endpoint = Callable[[Request], Awaitable[Response]]


class Answer(Enum):
    """How a route answers a refused request (see refusals.py)."""

    JSON = "json"  # always {"ok": false, "error", "step_up"}: routes only the pages' fetch calls and the API use
    JSON_IF_ASKED = "json-if-asked"  # JSON for a fetch; a plain post goes back to `page` (or gets plain text)
    PAGE = "page"  # back to `page` with ?error=<code>: a 303, or {"next": ...} for a fetch


@dataclass(frozen=True)
class Refusals:
    answer: Answer = Answer.JSON_IF_ASKED
    page: str | None = None  # the form's page, which shows outcomes.py's message for ?error=<code>


JSON_ONLY = Refusals(Answer.JSON)


def back_to(page: str) -> Refusals:
    """A refusal sends the browser back to `page` with its short code (accounts/identity/outcomes.py)."""
    return Refusals(Answer.PAGE, page)


def fetch_or_back_to(page: str) -> Refusals:
    """JSON for the page's fetch; a plain form post goes back to `page` with its short code."""
    return Refusals(Answer.JSON_IF_ASKED, page)


def same_origin(request: Request) -> bool:
    """Refuse cross-site form posts (login CSRF); browsers send Origin on POST."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


def cross_site_refused() -> Response:
    """The answer to a state-changing POST whose Origin is another site."""
    return PlainTextResponse("cross-site request refused", status_code=403)


def _route(path: str, endpoint: Endpoint, method: str, refusals: Refusals, check_origin: bool) -> Route:
    @functools.wraps(endpoint)
    async def shell(request: Request) -> Response:
        if check_origin and not same_origin(request):
            return cross_site_refused()
        request.state.refusals = refusals
        return await endpoint(request)

    return Route(path, shell, methods=[method])


def get(path: str, endpoint: Endpoint, *, refusals: Refusals = Refusals()) -> Route:
    """A GET route (it changes nothing a visitor asks for, so any origin may link to it)."""
    return _route(path, endpoint, "GET", refusals, check_origin=False)


def post(path: str, endpoint: Endpoint, *, refusals: Refusals = Refusals(), any_origin: bool = False) -> Route:
    """A state-changing POST: refused (403) when the browser says another site sent it, unless `any_origin`
    (a server-to-server call that proves itself otherwise, such as a signed webhook)."""
    return _route(path, endpoint, "POST", refusals, check_origin=not any_origin)
