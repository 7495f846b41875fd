"""Login and logout over plain form posts: the session secret lives only in an HttpOnly cookie."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from pkcrm_app.accounts.identity import known_devices, service
from pkcrm_app.accounts.identity.cookies import DEVICE_COOKIE, SESSION_COOKIE
from pkcrm_app.core.db import get_database
from pkcrm_app.core.errors import AuthenticationFailed, LoginThrottled
from pkcrm_app.http.forms import read_form
from pkcrm_app.settings import get_settings

log = logging.getLogger("pkcrm.auth")
T = TypeVar("T")
# The known-device cookie (accounts/identity/known_devices.py) is read only by the sign-in routes under /auth.
DEVICE_COOKIE_PATH = "/auth"


def same_origin(request: Request) -> bool:
    """Refuse cross-site form posts (login CSRF); browsers send Origin on POST."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


def cross_site_refused() -> Response:
    """The answer to a state-changing POST whose Origin is another site."""
    return PlainTextResponse("cross-site request refused", status_code=403)


def with_database(work: Callable[..., T], *args: object) -> T:
    """Run a service call in its own database session (routes call it in the thread pool)."""
    with get_database().session() as db:
        return work(db, *args)


def follow(request: Request, url: str) -> Response:
    """Where to go next: JSON for the page's fetch, a 303 for a plain form post."""
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"next": url})
    return RedirectResponse(url, status_code=303)


def client_ip(request: Request) -> str:
    """The address of whoever sent the request: the one helper every HTTP route uses for it.

    X-Forwarded-For is written by whoever sends the request, so it is believed only when
    PKCRM_TRUSTED_PROXIES says how many reverse proxies of ours stand in front of the app; then the address
    the outermost of them saw is read from the right of the list (each proxy appends its peer), exactly as
    Reflex does for the websocket with `trusted_proxy_hops` (rxconfig.py feeds it the same setting), so a
    client cannot choose the address its sign-in attempts are counted under. Repeated headers are joined in
    order, as RFC 9110 says they combine."""
    peer = request.client.host if request.client else ""
    hops = get_settings().trusted_proxy_count
    if hops <= 0:
        return peer
    forwarded = [ip.strip() for value in request.headers.getlist("x-forwarded-for") for ip in value.split(",")
                 if ip.strip()]
    return forwarded[-hops][:64] if len(forwarded) >= hops else peer


def start_session(request: Request, opened: service.OpenedSession) -> Response:
    """Answer a successful first factor: the new session secret in an HttpOnly cookie, then the next page."""
    response = follow(request, opened.next_url)
    response.set_cookie(SESSION_COOKIE, opened.token, max_age=get_settings().session_hours * 3600, httponly=True,
                        samesite="lax", secure=get_settings().cookie_secure, path="/")
    if opened.device_token:
        value = known_devices.add_to_cookie(request.cookies.get(DEVICE_COOKIE), opened.device_token)
        response.set_cookie(DEVICE_COOKIE, value, max_age=int(known_devices.KNOWN_DEVICE_LIFETIME.total_seconds()),
                            httponly=True, samesite="lax", secure=get_settings().cookie_secure, path=DEVICE_COOKIE_PATH)
    return response


def _attempt_login(
    email: str, password: str, ip: str, user_agent: str, screen: str, language: str, device_cookie: str | None
) -> service.OpenedSession:
    with get_database().session() as db:
        return service.login(db, email=email, password=password, ip=ip, user_agent=user_agent,
                             hours=get_settings().session_hours, screen=screen, language=language,
                             device_cookie=device_cookie)


async def login_route(request: Request) -> Response:
    if not same_origin(request):
        return cross_site_refused()
    form = await read_form(request)
    email, password = str(form.get("email") or ""), str(form.get("password") or "")
    try:
        opened = await run_in_threadpool(_attempt_login, email, password, client_ip(request),
                                        request.headers.get("user-agent", ""), str(form.get("screen") or ""),
                                        str(form.get("language") or request.headers.get("accept-language", ""))[:35],
                                        request.cookies.get(DEVICE_COOKIE))
    except AuthenticationFailed as failure:
        log.info("failed login from %s (%s)", client_ip(request), type(failure).__name__)
        await asyncio.sleep(failure.delay_seconds)  # progressive slow-down, the same for every email
        return follow(request, "/login?error=locked" if isinstance(failure, LoginThrottled) else "/login?error=1")
    return start_session(request, opened)


def _end_session(token: str | None, ip: str) -> None:
    with get_database().session() as db:
        service.logout(db, token, ip=ip)


async def logout_route(request: Request) -> Response:
    if not same_origin(request):
        return cross_site_refused()
    await run_in_threadpool(_end_session, request.cookies.get(SESSION_COOKIE), client_ip(request))
    response = follow(request, "/login")
    response.delete_cookie(SESSION_COOKIE, path="/", secure=get_settings().cookie_secure, httponly=True,
                           samesite="lax")
    return response
