"""Single sign-on over plain HTTP: start at the provider, come back to the callback, link one's own provider
account, and the owner's settings form.

Secrets (the client secret typed by an owner, the password that confirms a link, codes, tokens) only ever
travel in these requests: never in websocket state, URLs we build for our own pages, or logs.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pkcrm_app.accounts.identity.cookies import SESSION_COOKIE, STATE_COOKIE
from pkcrm_app.accounts.identity.sso import login as sso_login
from pkcrm_app.accounts.identity.sso import service as sso_service
from pkcrm_app.core.errors import AuthenticationFailed, DomainError
from pkcrm_app.flows import sso as sso_flow
from pkcrm_app.http.auth import end_cookie, slow_down, start_session
from pkcrm_app.http.deps import client_ip, current_actor, device_of, done, follow, in_transaction, run_flow
from pkcrm_app.http.forms import read_form
from pkcrm_app.http.routing import back_to, fetch_or_back_to, get, post
from pkcrm_app.settings import get_settings

log = logging.getLogger("pkcrm.sso")
STATE_COOKIE_PATH = "/auth/sso"
FAILED = "/login?error=sso"
PROFILE = "/profile"


def redirect_uri(request: Request) -> str:
    """Where the provider sends the browser back: this app's own callback, on the address the browser used."""
    return str(request.base_url).rstrip("/") + sso_service.CALLBACK_PATH


def _with_state(response: Response, state: str) -> Response:
    response.set_cookie(STATE_COOKIE, state, max_age=int(sso_login.ATTEMPT_LIFETIME.total_seconds()), httponly=True,
                        samesite="lax", secure=get_settings().cookie_secure, path=STATE_COOKIE_PATH)
    return response


async def start_route(request: Request) -> Response:
    org, callback = str(request.query_params.get("org") or ""), redirect_uri(request)
    try:
        url, state = await run_flow(sso_flow.begin_login, org_slug=org, redirect_uri=callback)
    except sso_login.SsoFailed as failure:
        log.info("single sign-on not started from %s: %s", client_ip(request), failure.reason)
        return RedirectResponse(FAILED, status_code=303)
    return _with_state(RedirectResponse(url, status_code=302), state)


def refusal_url(outcome: str) -> str:
    """The page that explains a refusal: the profile for a link, the login page for a sign-in."""
    if outcome.startswith("link-"):
        return f"{PROFILE}?sso={quote(outcome.removeprefix('link-'))}"
    return f"/login?error={quote(outcome)}"


async def callback_route(request: Request) -> Response:
    params = request.query_params
    state, code, error = (str(params.get(name) or "") for name in ("state", "code", "error"))
    browser_state, token = request.cookies.get(STATE_COOKIE), request.cookies.get(SESSION_COOKIE)
    ip, device = client_ip(request), device_of(request)
    try:
        finished = await run_flow(sso_flow.finish_login, state=state, code=code, error=error,
                                  browser_state=browser_state, session_token=token, ip=ip, user_agent=device,
                                  hours=get_settings().session_hours)
    except sso_login.SsoFailed as failure:
        log.info("single sign-on refused from %s: %s", ip, failure.reason)
        response: Response = RedirectResponse(refusal_url(failure.outcome), status_code=303)
    else:
        if finished.opened is not None:
            response = start_session(request, finished.opened)
        else:
            response = RedirectResponse(finished.next_url, status_code=303)
    return end_cookie(response, STATE_COOKIE, STATE_COOKIE_PATH)


async def link_route(request: Request) -> Response:
    """POST /auth/sso/link (password): a signed-in member starts linking their provider account."""
    form = await read_form(request)
    password = form.get("password")
    token, callback = request.cookies.get(SESSION_COOKIE), redirect_uri(request)
    actor = await current_actor(request)
    try:
        url, state = await run_flow(sso_flow.begin_link, actor=actor, password=password if isinstance(password, str)
                                    else "", session_token=token, redirect_uri=callback, ip=client_ip(request),
                                    device=device_of(request))
    except sso_login.SsoFailed as failure:
        log.info("single sign-on link not started from %s: %s", client_ip(request), failure.reason)
        return follow(request, f"{PROFILE}?sso=failed")
    except AuthenticationFailed as failure:  # the password did not confirm the account (or too many tries)
        await slow_down(failure)
        return follow(request, f"{PROFILE}?sso=password")
    except DomainError as exc:
        log.info("single sign-on link not started from %s: %s", client_ip(request), exc)
        return follow(request, f"{PROFILE}?sso=failed")
    return _with_state(follow(request, url), state)


async def settings_route(request: Request) -> Response:
    """POST /settings/sso/save: JSON for the page's fetch ({ok, next} or {ok: false, error, step_up}),
    a 303 for a plain form post."""
    form = {key: str(value) for key, value in (await read_form(request)).items() if isinstance(value, str)}
    actor = await current_actor(request)
    ip, device = client_ip(request), device_of(request)
    if form.get("action") == "disable":
        await in_transaction(lambda db: sso_service.disable(db, actor, ip=ip, device=device))
        next_url = "/settings/sso?done=disabled"
    else:
        await run_flow(sso_flow.configure, actor=actor, issuer=form.get("issuer", ""),
                       client_id=form.get("client_id", ""), client_secret=form.get("client_secret", ""),
                       enabled=form.get("enabled") == "on", ip=ip, device=device)
        next_url = "/settings/sso?done=saved"
    return done(request, next_url)


ROUTES: list[Route] = [
    get("/auth/sso/start", start_route),
    get("/auth/sso/callback", callback_route),
    post("/auth/sso/link", link_route, refusals=back_to(PROFILE)),
    post("/settings/sso/save", settings_route, refusals=fetch_or_back_to("/settings/sso")),
]
