"""Sign-up, invitations, password reset and password change over plain form posts.

A link's token goes from the mail to a GET route that puts it in a short-lived HttpOnly cookie and
redirects to the page, so it leaves the address bar after the first hop and never enters websocket
state; the page's POST reads it back from the cookie.

Asking for a sign-up or a reset also leaves a random cookie in the asking browser (BROWSER_COOKIE), whose hash
is stored with the link: opened there, the link works as it is; opened anywhere else, the page first shows the
account's email and the person confirms it (accounts/identity/tokens.py). A refusal sends the browser back to
its page with a short code (accounts/identity/outcomes.py; the DomainError handler in refusals.py), never with
text."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from urllib.parse import urlencode

from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pkcrm_app.accounts.identity import profile, recovery, service
from pkcrm_app.accounts.identity.cookies import (
    BROWSER_COOKIE,
    INVITE_COOKIE,
    RESET_COOKIE,
    SESSION_COOKIE,
    SIGNUP_COOKIE,
)
from pkcrm_app.accounts.identity.models import Membership, User
from pkcrm_app.accounts.organisations import invitations, signup
from pkcrm_app.core.errors import InvalidInput
from pkcrm_app.flows import signup as signup_flow
from pkcrm_app.http.auth import end_cookie, start_session
from pkcrm_app.http.deps import client_ip, current_actor, device_of, follow, in_transaction
from pkcrm_app.http.forms import read_form
from pkcrm_app.http.routing import back_to, get, post
from pkcrm_app.settings import get_settings

log = logging.getLogger("pkcrm.onboarding")
LINK_COOKIE_SECONDS = 30 * 60
BROWSER_COOKIE_SECONDS = int(signup.SIGNUP_TTL.total_seconds())  # as long as the longest link it binds
BROWSER_MARK = re.compile(r"[A-Za-z0-9_-]{43}")


def _asking_browser(request: Request) -> str:
    """This browser's mark: the one it has, or a new one (set on the answer by `_mark_browser`)."""
    mark = request.cookies.get(BROWSER_COOKIE) or ""
    return mark if BROWSER_MARK.fullmatch(mark) else secrets.token_urlsafe(32)


def _mark_browser(response: Response, mark: str) -> Response:
    response.set_cookie(BROWSER_COOKIE, mark, max_age=BROWSER_COOKIE_SECONDS, httponly=True, samesite="lax",
                        secure=get_settings().cookie_secure, path="/")
    return response


def _browser(request: Request) -> str | None:
    return request.cookies.get(BROWSER_COOKIE)


def _form_text(form: object, name: str) -> str:
    value = form.get(name) if hasattr(form, "get") else None
    return value if isinstance(value, str) else ""


def _open(db: Session, request: Request, user: User, membership: Membership, method: str,
          form: object) -> service.OpenedSession:
    return service.open_session(
        db, user=user, membership=membership, ip=client_ip(request), user_agent=device_of(request),
        hours=get_settings().session_hours, screen=_form_text(form, "screen"),
        language=(_form_text(form, "language") or request.headers.get("accept-language", ""))[:35], method=method)


def link_cookie(path: str, cookie: str, token: str) -> Response:
    """The first hop of an emailed link: keep the token in an HttpOnly cookie and show the page without it."""
    response = RedirectResponse(path, status_code=303)
    response.set_cookie(cookie, token, max_age=LINK_COOKIE_SECONDS, httponly=True, samesite="lax",
                        secure=get_settings().cookie_secure, path="/")
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


# Sign-up ---------------------------------------------------------------------------------------------------------

async def signup_route(request: Request) -> Response:
    """Ask for a sign-up: the same "check your email" answer for new and already registered emails."""
    form = await read_form(request)
    mark = _asking_browser(request)
    await in_transaction(lambda db: signup.request_sign_up(
        db, email=_form_text(form, "email"), name=_form_text(form, "name"), org_name=_form_text(form, "org_name"),
        password=_form_text(form, "password"), ip=client_ip(request), device=device_of(request), browser=mark))
    return _mark_browser(follow(request, "/signup?sent=1"), mark)


async def signup_link_route(request: Request) -> Response:
    """The emailed confirmation link creates nothing (mail scanners prefetch links): it leads to the page
    whose button confirms."""
    return link_cookie("/signup/confirm", SIGNUP_COOKIE, request.path_params["token"])


async def confirm_signup_route(request: Request) -> Response:
    """The confirmation page's button: create the organisation of the link in the cookie and sign its owner in."""

    def confirm(db: Session, token: str | None, form: FormData) -> service.OpenedSession:
        done = signup_flow.confirm_sign_up(db, token, browser=_browser(request),
                                           confirmed_email=_form_text(form, "confirmed_email"), ip=client_ip(request),
                                           device=device_of(request))
        return _open(db, request, done.user, done.membership, "sign-up", form)

    return await _finish_link(request, SIGNUP_COOKIE, confirm)


async def _finish_link(
    request: Request, cookie: str, work: Callable[[Session, str | None, FormData], service.OpenedSession | None],
) -> Response:
    """The POST behind an emailed link: run `work` with the link's token (from its cookie) and the form; a session
    it opens is started here (none: on to the login page); the link cookie goes. A refusal goes back to the
    route's page (the DomainError handler)."""
    form = await read_form(request)
    token = request.cookies.get(cookie)
    opened = await in_transaction(lambda db: work(db, token, form))
    response = follow(request, "/login") if opened is None else start_session(request, opened)
    return end_cookie(response, cookie)


# Invitations -----------------------------------------------------------------------------------------------------

async def invite_link_route(request: Request) -> Response:
    return link_cookie("/invite", INVITE_COOKIE, request.path_params["token"])


async def accept_invite_route(request: Request) -> Response:
    """Accept the invitation in the cookie: join (new or existing account) and open a session."""

    def accept(db: Session, token: str | None, form: FormData) -> service.OpenedSession:
        joined = invitations.accept(db, token, name=_form_text(form, "name"), password=_form_text(form, "password"),
                                    confirmed_email=_form_text(form, "confirmed_email"), ip=client_ip(request),
                                    device=device_of(request))
        return _open(db, request, joined.user, joined.membership, "invitation", form)

    return await _finish_link(request, INVITE_COOKIE, accept)


# Password reset and change ---------------------------------------------------------------------------------------

async def forgot_route(request: Request) -> Response:
    """Ask for a reset link: always the same answer; the mail (if any) goes out after the answer."""
    form = await read_form(request)
    email = _form_text(form, "email")
    mark = _asking_browser(request)
    mail = await in_transaction(lambda db: recovery.request_password_reset(
        db, email, ip=client_ip(request), device=device_of(request), browser=mark))
    response = _mark_browser(follow(request, "/forgot?sent=1"), mark)
    response.background = BackgroundTask(recovery.deliver_quietly, mail)
    return response


async def reset_link_route(request: Request) -> Response:
    return link_cookie("/reset", RESET_COOKIE, request.path_params["token"])


async def reset_route(request: Request) -> Response:
    """Set a new password with the link in the cookie; every old session ends and a new one opens here."""

    def reset(db: Session, token: str | None, form: FormData) -> service.OpenedSession | None:
        password = _form_text(form, "password")
        if password != _form_text(form, "password_again"):
            raise InvalidInput("The two passwords differ.")
        done = recovery.reset_password(db, token, password, browser=_browser(request),
                                       confirmed_email=_form_text(form, "confirmed_email"), ip=client_ip(request),
                                       device=device_of(request))
        return None if done.membership is None else _open(db, request, done.user, done.membership, "reset", form)

    return await _finish_link(request, RESET_COOKIE, reset)


async def change_password_route(request: Request) -> Response:
    """A signed-in user changes their password; their other sessions end, this one stays."""
    form = await read_form(request)
    token = request.cookies.get(SESSION_COOKIE)
    new = _form_text(form, "new_password")
    if new != _form_text(form, "new_password_again"):
        raise InvalidInput("The two new passwords differ.")
    actor = await current_actor(request)
    ended = await in_transaction(lambda db: profile.change_password(
        db, actor, current=_form_text(form, "current_password"), new=new, current_token=token, ip=client_ip(request),
        device=device_of(request)))
    return follow(request, f"/profile?{urlencode({'done': 'password', 'ended': str(ended)})}")


ROUTES: list[Route] = [
    post("/auth/signup", signup_route, refusals=back_to("/signup")),
    post("/auth/signup/confirm", confirm_signup_route, refusals=back_to("/signup/confirm")),
    get("/auth/signup/confirm/{token}", signup_link_route),
    post("/auth/invite/accept", accept_invite_route, refusals=back_to("/invite")),
    get("/auth/invite/{token}", invite_link_route),
    post("/auth/forgot", forgot_route),
    post("/auth/reset", reset_route, refusals=back_to("/reset")),
    get("/auth/reset/{token}", reset_link_route),
    post("/auth/password", change_password_route, refusals=back_to("/profile")),
]
