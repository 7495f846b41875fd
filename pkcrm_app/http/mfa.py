"""Second-factor routes: the code step of a login, enrolment (QR code and confirmation), step-up, new
recovery codes, and the emailed reset of one's own factor. Codes and secrets travel only over these
requests, never through websocket state. The JSON routes answer the pages' fetch calls; their refusals are
the DomainError handler's (refusals.py)."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pkcrm_app.accounts.identity import mfa_login, mfa_reset, recovery, second_factor
from pkcrm_app.accounts.identity.cookies import MFA_RESET_COOKIE, SESSION_COOKIE
from pkcrm_app.core.errors import AuthenticationFailed, DomainError
from pkcrm_app.http.auth import end_cookie, start_session
from pkcrm_app.http.deps import NO_STORE, client_ip, current_actor, device_of, follow, in_transaction
from pkcrm_app.http.forms import read_form
from pkcrm_app.http.onboarding import link_cookie
from pkcrm_app.http.routing import JSON_ONLY, get, post

log = logging.getLogger("pkcrm.auth")


async def _form_code(request: Request) -> str:
    return str((await read_form(request)).get("code") or "")


async def verify_login_code(request: Request) -> Response:
    """POST /auth/mfa/verify: the code step of a login; success opens the session under a new cookie."""
    code = await _form_code(request)
    try:
        opened = await in_transaction(mfa_login.finish_with_code, request.cookies.get(SESSION_COOKIE), code)
    except AuthenticationFailed as failure:
        log.info("second factor refused for a login from %s: %s", client_ip(request), failure)
        locked = isinstance(failure, second_factor.SecondFactorLocked)
        return follow(request, "/login?error=mfa_locked" if locked else "/login?error=mfa")
    except DomainError:
        log.info("wrong second-factor code from %s", client_ip(request))
        return follow(request, "/login/verify?error=1")
    return start_session(request, opened)


def _qr_with_key(db: Session, token: str | None) -> str:
    enrolment = mfa_login.begin_enrolment(db, token)
    groups = [enrolment.secret[i:i + 4] for i in range(0, len(enrolment.secret), 4)]
    return _compose_svg(enrolment.qr_svg_data_uri, " ".join(groups[:4]), " ".join(groups[4:]))


def _compose_svg(qr_data_uri: str, *key_lines: str) -> str:
    """The QR code with the key printed under it, for people who type it in by hand."""
    text = "".join(
        f'<text x="130" y="{262 + 20 * n}" font-family="monospace" font-size="15" text-anchor="middle" fill="#222">'
        f"{line}</text>" for n, line in enumerate(key_lines))
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="260" height="300" viewBox="0 0 260 300">'
        '<rect width="260" height="300" fill="white"/>'
        f'<image href="{qr_data_uri}" x="10" y="0" width="240" height="240"/>{text}</svg>'
    )


async def enrolment_qr(request: Request) -> Response:
    """GET /auth/mfa/qr.svg: a fresh secret as a QR code (and typed key) for the user behind the cookie."""
    svg = await in_transaction(_qr_with_key, request.cookies.get(SESSION_COOKIE))
    return Response(svg, media_type="image/svg+xml", headers=NO_STORE)


async def confirm_enrolment(request: Request) -> Response:
    """POST /auth/mfa/enrol: the first code switches the factor on; the answer carries the recovery codes."""
    code = await _form_code(request)
    codes, opened = await in_transaction(mfa_login.confirm_enrolment, request.cookies.get(SESSION_COOKIE), code)
    response = start_session(request, opened) if opened else Response()
    body = JSONResponse({"codes": codes, "next": opened.next_url if opened else "/account"}, headers=NO_STORE)
    for key, value in response.headers.items():
        if key.lower() == "set-cookie":
            body.headers.append(key, value)
    return body


async def step_up(request: Request) -> Response:
    """POST /auth/step-up: a fresh code opens the few-minute window for sensitive actions."""
    code = await _form_code(request)
    await in_transaction(mfa_login.step_up, request.cookies.get(SESSION_COOKIE), code)
    return JSONResponse({"ok": True})


async def replace_recovery_codes(request: Request) -> Response:
    """POST /auth/mfa/recovery-codes: ten new recovery codes (step-up), shown once."""
    codes = await in_transaction(second_factor.new_recovery_codes, await current_actor(request))
    return JSONResponse({"codes": codes}, headers=NO_STORE)


async def lost_authenticator(request: Request) -> Response:
    """POST /auth/mfa/lost: from a login waiting for its code, email the person a link that resets their own
    second factor (accounts/mfa_reset.py). The answer is the same whether or not the mail limits let the mail
    go, and the mail leaves after the answer."""
    token, ip, device = request.cookies.get(SESSION_COOKIE), client_ip(request), device_of(request)
    try:
        mail = await in_transaction(lambda db: mfa_reset.request_reset(db, token, ip=ip, device=device))
    except AuthenticationFailed:
        return follow(request, "/login?error=mfa")
    response = follow(request, "/login/verify?sent=1")
    response.background = BackgroundTask(recovery.deliver_quietly, mail)
    return response


async def factor_reset_link(request: Request) -> Response:
    """GET /auth/mfa/reset/{token}: the emailed link resets nothing (mail scanners prefetch links); it keeps the
    token in an HttpOnly cookie and leads to the code page, whose button confirms."""
    return link_cookie("/login/verify", MFA_RESET_COOKIE, request.path_params["token"])


async def confirm_factor_reset(request: Request) -> Response:
    """POST /auth/mfa/reset: the person confirms, in the browser where their login waits for its code, the reset
    of the link in the cookie; every session of theirs ends and they sign in again."""
    link, token = request.cookies.get(MFA_RESET_COOKIE), request.cookies.get(SESSION_COOKIE)
    ip, device = client_ip(request), device_of(request)
    try:
        await in_transaction(lambda db: mfa_reset.confirm_reset(db, link, token, ip=ip, device=device))
    except DomainError as exc:  # the page says which: a link no longer valid, or not this browser's login
        reason = "link" if str(exc) == mfa_reset.INVALID_LINK else "browser"
        return follow(request, "/login/verify?" + urlencode({"reset_error": reason}))
    response = follow(request, "/login?error=mfa_reset")
    for cookie in (MFA_RESET_COOKIE, SESSION_COOKIE):
        end_cookie(response, cookie)
    return response


ROUTES: list[Route] = [
    post("/auth/mfa/verify", verify_login_code),
    get("/auth/mfa/qr.svg", enrolment_qr),
    post("/auth/mfa/enrol", confirm_enrolment, refusals=JSON_ONLY),
    post("/auth/mfa/recovery-codes", replace_recovery_codes, refusals=JSON_ONLY),
    post("/auth/step-up", step_up, refusals=JSON_ONLY),
    post("/auth/mfa/lost", lost_authenticator),
    get("/auth/mfa/reset/{token}", factor_reset_link),
    post("/auth/mfa/reset", confirm_factor_reset),
]
