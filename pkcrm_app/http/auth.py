"""Login and logout over plain form posts: the session secret lives only in an HttpOnly cookie."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pkcrm_app.accounts.identity import known_devices, service
from pkcrm_app.accounts.identity.cookies import DEVICE_COOKIE, SESSION_COOKIE
from pkcrm_app.core.errors import AuthenticationFailed, LoginThrottled
from pkcrm_app.http.deps import client_ip, device_of, follow, in_transaction
from pkcrm_app.http.forms import read_form
from pkcrm_app.http.routing import post
from pkcrm_app.settings import get_settings

log = logging.getLogger("pkcrm.auth")
# The known-device cookie (accounts/identity/known_devices.py) is read only by the sign-in routes under /auth.
DEVICE_COOKIE_PATH = "/auth"


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


def end_cookie(response: Response, cookie: str, path: str = "/") -> Response:
    """Delete one of our cookies with the attributes it was set with."""
    response.delete_cookie(cookie, path=path, secure=get_settings().cookie_secure, httponly=True, samesite="lax")
    return response


async def slow_down(failure: AuthenticationFailed) -> None:
    """The progressive slow-down of failed sign-ins, the same for every email."""
    await asyncio.sleep(failure.delay_seconds)


async def login_route(request: Request) -> Response:
    form = await read_form(request)
    email, password = str(form.get("email") or ""), str(form.get("password") or "")
    language = str(form.get("language") or request.headers.get("accept-language", ""))[:35]

    def attempt(db: Session) -> service.OpenedSession:
        return service.login(db, email=email, password=password, ip=client_ip(request), user_agent=device_of(request),
                             hours=get_settings().session_hours, screen=str(form.get("screen") or ""),
                             language=language, device_cookie=request.cookies.get(DEVICE_COOKIE))

    try:
        opened = await in_transaction(attempt)
    except AuthenticationFailed as failure:
        log.info("failed login from %s (%s)", client_ip(request), type(failure).__name__)
        await slow_down(failure)
        return follow(request, "/login?error=locked" if isinstance(failure, LoginThrottled) else "/login?error=1")
    return start_session(request, opened)


async def logout_route(request: Request) -> Response:
    token, ip = request.cookies.get(SESSION_COOKIE), client_ip(request)
    await in_transaction(lambda db: service.logout(db, token, ip=ip))
    return end_cookie(follow(request, "/login"), SESSION_COOKIE)


ROUTES: list[Route] = [
    post("/auth/login", login_route),
    post("/auth/logout", logout_route),
]
