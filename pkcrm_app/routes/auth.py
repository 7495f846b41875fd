"""Login and logout over plain form posts: the session secret lives only in an HttpOnly cookie."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from pkcrm_app.accounts import service
from pkcrm_app.core.db import get_database
from pkcrm_app.core.errors import AuthenticationFailed, LoginThrottled
from pkcrm_app.settings import get_settings

log = logging.getLogger("pkcrm.auth")
SESSION_COOKIE = "pkcrm_session"


def _same_origin(request: Request) -> bool:
    """Refuse cross-site form posts (login CSRF); browsers send Origin on POST."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


def _follow(request: Request, url: str) -> Response:
    """Where to go next: JSON for the page's fetch, a 303 for a plain form post."""
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"next": url})
    return RedirectResponse(url, status_code=303)


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


def _attempt_login(email: str, password: str, ip: str, user_agent: str, screen: str, language: str) -> str:
    with get_database().session() as db:
        return service.login(db, email=email, password=password, ip=ip, user_agent=user_agent,
                             hours=get_settings().session_hours, screen=screen, language=language)


async def login_route(request: Request) -> Response:
    if not _same_origin(request):
        return PlainTextResponse("cross-site request refused", status_code=403)
    form = await request.form()
    email, password = str(form.get("email") or ""), str(form.get("password") or "")
    try:
        token = await run_in_threadpool(_attempt_login, email, password, _client(request),
                                        request.headers.get("user-agent", ""), str(form.get("screen") or ""),
                                        str(form.get("language") or request.headers.get("accept-language", ""))[:35])
    except AuthenticationFailed as failure:
        log.info("failed login from %s (%s)", _client(request), type(failure).__name__)
        await asyncio.sleep(failure.delay_seconds)  # progressive slow-down, the same for every email
        return _follow(request, "/login?error=locked" if isinstance(failure, LoginThrottled) else "/login?error=1")
    response = _follow(request, "/board")
    response.set_cookie(SESSION_COOKIE, token, max_age=get_settings().session_hours * 3600, httponly=True,
                        samesite="lax", secure=get_settings().cookie_secure, path="/")
    return response


def _end_session(token: str | None, ip: str) -> None:
    with get_database().session() as db:
        service.logout(db, token, ip=ip)


async def logout_route(request: Request) -> Response:
    if not _same_origin(request):
        return PlainTextResponse("cross-site request refused", status_code=403)
    await run_in_threadpool(_end_session, request.cookies.get(SESSION_COOKIE), _client(request))
    response = _follow(request, "/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
