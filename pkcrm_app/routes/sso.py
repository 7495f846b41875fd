"""Single sign-on over plain HTTP: start at the provider, come back to the callback, and the admin's settings form.

Secrets (the client secret typed by an admin, codes, tokens) only ever travel in these requests: never in
websocket state, URLs we build for our own pages, or logs.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from pkcrm_app.accounts import service as accounts
from pkcrm_app.accounts.sso import login as sso_login
from pkcrm_app.accounts.sso import service as sso_service
from pkcrm_app.core.db import get_database
from pkcrm_app.core.errors import DomainError
from pkcrm_app.routes.auth import (
    SESSION_COOKIE,
    client_ip,
    cross_site_refused,
    follow,
    same_origin,
    start_session,
)
from pkcrm_app.routes.forms import read_form
from pkcrm_app.settings import get_settings

log = logging.getLogger("pkcrm.sso")
STATE_COOKIE = "pkcrm_sso_state"
STATE_COOKIE_PATH = "/auth/sso"
FAILED = "/login?error=sso"


def redirect_uri(request: Request) -> str:
    """Where the provider sends the browser back: this app's own callback, on the address the browser used."""
    return str(request.base_url).rstrip("/") + sso_service.CALLBACK_PATH


def _begin(org: str, callback: str) -> tuple[str, str]:
    with get_database().session() as db:
        return sso_login.begin_login(db, org_slug=org, redirect_uri=callback)


async def start_route(request: Request) -> Response:
    org = str(request.query_params.get("org") or "")
    try:
        url, state = await run_in_threadpool(_begin, org, redirect_uri(request))
    except sso_login.SsoFailed as failure:
        log.info("single sign-on not started from %s: %s", client_ip(request), failure.reason)
        return RedirectResponse(FAILED, status_code=303)
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(STATE_COOKIE, state, max_age=int(sso_login.ATTEMPT_LIFETIME.total_seconds()), httponly=True,
                        samesite="lax", secure=get_settings().cookie_secure, path=STATE_COOKIE_PATH)
    return response


def _finish(request: Request, state: str, code: str, error: str) -> accounts.OpenedSession:
    with get_database().session() as db:
        return sso_login.finish_login(
            db, state=state, code=code, error=error, browser_state=request.cookies.get(STATE_COOKIE),
            ip=client_ip(request), user_agent=request.headers.get("user-agent", ""),
            hours=get_settings().session_hours,
        )


async def callback_route(request: Request) -> Response:
    params = request.query_params
    try:
        opened = await run_in_threadpool(_finish, request, str(params.get("state") or ""),
                                         str(params.get("code") or ""), str(params.get("error") or ""))
    except sso_login.SsoFailed as failure:
        log.info("single sign-on refused from %s: %s", client_ip(request), failure.reason)
        response: Response = RedirectResponse(FAILED, status_code=303)
    else:
        response = start_session(request, opened)
    response.delete_cookie(STATE_COOKIE, path=STATE_COOKIE_PATH, secure=get_settings().cookie_secure, httponly=True,
                           samesite="lax")
    return response


def _save(token: str | None, form: dict[str, str], ip: str, device: str) -> str:
    """Apply the settings form as the signed-in admin; returns the page to show next."""
    with get_database().session() as db:
        info = accounts.resolve_session(db, token)
        if info is None:
            return "/login"
        try:
            if form.get("action") == "disable":
                sso_service.disable(db, info.actor, ip=ip, device=device)
                return "/settings/sso?done=disabled"
            sso_service.configure(db, info.actor, issuer=form.get("issuer", ""), client_id=form.get("client_id", ""),
                                  client_secret=form.get("client_secret", ""), enabled=form.get("enabled") == "on",
                                  ip=ip, device=device)
        except DomainError as exc:
            db.rollback()
            return "/settings/sso?error=" + quote(str(exc)[:300])
    return "/settings/sso?done=saved"


async def settings_route(request: Request) -> Response:
    if not same_origin(request):
        return cross_site_refused()
    form = {key: str(value) for key, value in (await read_form(request)).items() if isinstance(value, str)}
    next_url = await run_in_threadpool(_save, request.cookies.get(SESSION_COOKIE), form, client_ip(request),
                                       request.headers.get("user-agent", ""))
    return follow(request, next_url)
