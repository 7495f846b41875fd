"""Single sign-on over plain HTTP: start at the provider, come back to the callback, link one's own provider
account, and the owner's settings form.

Secrets (the client secret typed by an owner, the password that confirms a link, codes, tokens) only ever
travel in these requests: never in websocket state, URLs we build for our own pages, or logs.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from pkcrm_app.accounts.identity import outcomes
from pkcrm_app.accounts.identity import service as accounts
from pkcrm_app.accounts.identity.cookies import SESSION_COOKIE, STATE_COOKIE
from pkcrm_app.accounts.identity.sso import links as sso_links
from pkcrm_app.accounts.identity.sso import login as sso_login
from pkcrm_app.accounts.identity.sso import service as sso_service
from pkcrm_app.core.db import get_database
from pkcrm_app.core.errors import AuthenticationFailed, DomainError, PermissionDenied, StepUpRequired
from pkcrm_app.http.auth import client_ip, cross_site_refused, follow, same_origin, start_session
from pkcrm_app.http.forms import read_form
from pkcrm_app.settings import get_settings

log = logging.getLogger("pkcrm.sso")
STATE_COOKIE_PATH = "/auth/sso"
FAILED = "/login?error=sso"
PROFILE = "/profile"
NO_STORE = {"Cache-Control": "no-store"}


def redirect_uri(request: Request) -> str:
    """Where the provider sends the browser back: this app's own callback, on the address the browser used."""
    return str(request.base_url).rstrip("/") + sso_service.CALLBACK_PATH


def _with_state(response: Response, state: str) -> Response:
    response.set_cookie(STATE_COOKIE, state, max_age=int(sso_login.ATTEMPT_LIFETIME.total_seconds()), httponly=True,
                        samesite="lax", secure=get_settings().cookie_secure, path=STATE_COOKIE_PATH)
    return response


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
    return _with_state(RedirectResponse(url, status_code=302), state)


def _finish(request: Request, state: str, code: str, error: str) -> sso_login.Finished:
    with get_database().session() as db:
        return sso_login.finish_login(
            db, state=state, code=code, error=error, browser_state=request.cookies.get(STATE_COOKIE),
            session_token=request.cookies.get(SESSION_COOKIE), ip=client_ip(request),
            user_agent=request.headers.get("user-agent", ""), hours=get_settings().session_hours,
        )


def refusal_url(outcome: str) -> str:
    """The page that explains a refusal: the profile for a link, the login page for a sign-in."""
    if outcome.startswith("link-"):
        return f"{PROFILE}?sso={quote(outcome.removeprefix('link-'))}"
    return f"/login?error={quote(outcome)}"


async def callback_route(request: Request) -> Response:
    params = request.query_params
    try:
        finished = await run_in_threadpool(_finish, request, str(params.get("state") or ""),
                                           str(params.get("code") or ""), str(params.get("error") or ""))
    except sso_login.SsoFailed as failure:
        log.info("single sign-on refused from %s: %s", client_ip(request), failure.reason)
        response: Response = RedirectResponse(refusal_url(failure.outcome), status_code=303)
    else:
        if finished.opened is not None:
            response = start_session(request, finished.opened)
        else:
            response = RedirectResponse(finished.next_url, status_code=303)
    response.delete_cookie(STATE_COOKIE, path=STATE_COOKIE_PATH, secure=get_settings().cookie_secure, httponly=True,
                           samesite="lax")
    return response


def _link(token: str | None, password: str, callback: str, ip: str, device: str) -> tuple[str, str] | None:
    """(provider URL, state), or None without a live session."""
    with get_database().session() as db:
        info = accounts.resolve_session(db, token)
        if info is None:
            return None
        return sso_links.begin_link(db, info.actor, password=password, session_token=token, redirect_uri=callback,
                                    ip=ip, device=device)


async def link_route(request: Request) -> Response:
    """POST /auth/sso/link (password): a signed-in member starts linking their provider account."""
    if not same_origin(request):
        return cross_site_refused()
    form = await read_form(request)
    password = form.get("password")
    try:
        started = await run_in_threadpool(
            _link, request.cookies.get(SESSION_COOKIE), password if isinstance(password, str) else "",
            redirect_uri(request), client_ip(request), request.headers.get("user-agent", ""))
    except sso_login.SsoFailed as failure:
        log.info("single sign-on link not started from %s: %s", client_ip(request), failure.reason)
        return follow(request, f"{PROFILE}?sso=failed")
    except AuthenticationFailed as failure:  # the password did not confirm the account (or too many tries)
        await asyncio.sleep(failure.delay_seconds)
        return follow(request, f"{PROFILE}?sso=password")
    except DomainError as exc:
        log.info("single sign-on link not started from %s: %s", client_ip(request), exc)
        return follow(request, f"{PROFILE}?sso=failed")
    if started is None:
        return follow(request, "/login")
    url, state = started
    return _with_state(follow(request, url), state)


def _save(token: str | None, form: dict[str, str], ip: str, device: str) -> str:
    """Apply the settings form as the signed-in owner; returns the page to show next."""
    with get_database().session() as db:
        info = accounts.resolve_session(db, token)
        if info is None:
            return "/login"
        if form.get("action") == "disable":
            sso_service.disable(db, info.actor, ip=ip, device=device)
            return "/settings/sso?done=disabled"
        sso_service.configure(db, info.actor, issuer=form.get("issuer", ""), client_id=form.get("client_id", ""),
                              client_secret=form.get("client_secret", ""), enabled=form.get("enabled") == "on",
                              ip=ip, device=device)
    return "/settings/sso?done=saved"


async def settings_route(request: Request) -> Response:
    """POST /settings/sso/save: JSON for the page's fetch ({ok, next} or {ok: false, error, step_up}),
    a 303 for a plain form post."""
    if not same_origin(request):
        return cross_site_refused()
    form = {key: str(value) for key, value in (await read_form(request)).items() if isinstance(value, str)}
    wants_json = "application/json" in request.headers.get("accept", "")
    try:
        next_url = await run_in_threadpool(_save, request.cookies.get(SESSION_COOKIE), form, client_ip(request),
                                           request.headers.get("user-agent", ""))
    except DomainError as exc:
        if wants_json:
            return JSONResponse({"ok": False, "error": str(exc)[:300], "step_up": isinstance(exc, StepUpRequired)},
                                status_code=403 if isinstance(exc, PermissionDenied) else 400, headers=NO_STORE)
        return follow(request, "/settings/sso?error=" + quote(outcomes.code_for(exc)))
    if wants_json:
        return JSONResponse({"ok": True, "next": next_url}, headers=NO_STORE)
    return follow(request, next_url)
