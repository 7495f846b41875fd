"""Second-factor routes: the code step of a login, enrolment (QR code and confirmation), step-up, new
recovery codes, and the emailed reset of one's own factor. Codes and secrets travel only over these
requests, never through websocket state."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from pkcrm_app.accounts.identity import mfa_login, mfa_reset, recovery, second_factor
from pkcrm_app.accounts.identity.cookies import MFA_RESET_COOKIE, SESSION_COOKIE
from pkcrm_app.accounts.identity.service import resolve_session
from pkcrm_app.core.errors import AuthenticationFailed, DomainError, StepUpRequired
from pkcrm_app.http.auth import client_ip, cross_site_refused, follow, same_origin, start_session, with_database
from pkcrm_app.http.forms import read_form
from pkcrm_app.http.onboarding import _link_cookie
from pkcrm_app.settings import get_settings

log = logging.getLogger("pkcrm.auth")
NO_STORE = {"Cache-Control": "no-store"}


async def _form_code(request: Request) -> str:
    return str((await read_form(request)).get("code") or "")


async def verify_login_code(request: Request) -> Response:
    """POST /auth/mfa/verify: the code step of a login; success opens the session under a new cookie."""
    if not same_origin(request):
        return cross_site_refused()
    code = await _form_code(request)
    try:
        opened = await run_in_threadpool(with_database, mfa_login.finish_with_code, request.cookies.get(SESSION_COOKIE),
                                         code)
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
    try:
        svg = await run_in_threadpool(with_database, _qr_with_key, request.cookies.get(SESSION_COOKIE))
    except DomainError as exc:
        return PlainTextResponse(str(exc), status_code=403)
    return Response(svg, media_type="image/svg+xml", headers=NO_STORE)


async def confirm_enrolment(request: Request) -> Response:
    """POST /auth/mfa/enrol: the first code switches the factor on; the answer carries the recovery codes."""
    if not same_origin(request):
        return cross_site_refused()
    code = await _form_code(request)
    try:
        codes, opened = await run_in_threadpool(with_database, mfa_login.confirm_enrolment,
                                                request.cookies.get(SESSION_COOKIE), code)
    except AuthenticationFailed as exc:
        return JSONResponse({"error": str(exc), "next": "/login"}, status_code=401, headers=NO_STORE)
    except DomainError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400, headers=NO_STORE)
    response = start_session(request, opened) if opened else Response()
    body = JSONResponse({"codes": codes, "next": opened.next_url if opened else "/account"}, headers=NO_STORE)
    for key, value in response.headers.items():
        if key.lower() == "set-cookie":
            body.headers.append(key, value)
    return body


async def step_up(request: Request) -> Response:
    """POST /auth/step-up: a fresh code opens the few-minute window for sensitive actions."""
    if not same_origin(request):
        return cross_site_refused()
    code = await _form_code(request)
    try:
        await run_in_threadpool(with_database, mfa_login.step_up, request.cookies.get(SESSION_COOKIE), code)
    except AuthenticationFailed as exc:
        return JSONResponse({"ok": False, "error": str(exc), "next": "/login"}, status_code=401)
    except DomainError as exc:
        return JSONResponse({"ok": False, "error": str(exc)}, status_code=400)
    return JSONResponse({"ok": True})


def _new_codes(db: Session, token: str | None) -> list[str]:
    info = resolve_session(db, token)
    if info is None:
        raise AuthenticationFailed("sign in first")
    codes = second_factor.new_recovery_codes(db, info.actor)
    db.commit()
    return codes


async def replace_recovery_codes(request: Request) -> Response:
    """POST /auth/mfa/recovery-codes: ten new recovery codes (step-up), shown once."""
    if not same_origin(request):
        return cross_site_refused()
    try:
        codes = await run_in_threadpool(with_database, _new_codes, request.cookies.get(SESSION_COOKIE))
    except DomainError as exc:
        return JSONResponse({"error": str(exc), "step_up": isinstance(exc, StepUpRequired)}, status_code=403,
                            headers=NO_STORE)
    return JSONResponse({"codes": codes}, headers=NO_STORE)


async def lost_authenticator(request: Request) -> Response:
    """POST /auth/mfa/lost: from a login waiting for its code, email the person a link that resets their own
    second factor (accounts/mfa_reset.py). The answer is the same whether or not the mail limits let the mail
    go, and the mail leaves after the answer."""
    if not same_origin(request):
        return cross_site_refused()
    ip, device = client_ip(request), request.headers.get("user-agent", "")
    try:
        mail = await run_in_threadpool(with_database, lambda db: mfa_reset.request_reset(
            db, request.cookies.get(SESSION_COOKIE), ip=ip, device=device))
    except AuthenticationFailed:
        return follow(request, "/login?error=mfa")
    response = follow(request, "/login/verify?sent=1")
    response.background = BackgroundTask(recovery.deliver_quietly, mail)
    return response


async def factor_reset_link(request: Request) -> Response:
    """GET /auth/mfa/reset/{token}: the emailed link resets nothing (mail scanners prefetch links); it keeps the
    token in an HttpOnly cookie and leads to the code page, whose button confirms."""
    return _link_cookie("/login/verify", MFA_RESET_COOKIE, request.path_params["token"])


async def confirm_factor_reset(request: Request) -> Response:
    """POST /auth/mfa/reset: the person confirms, in the browser where their login waits for its code, the reset
    of the link in the cookie; every session of theirs ends and they sign in again."""
    if not same_origin(request):
        return cross_site_refused()
    ip, device = client_ip(request), request.headers.get("user-agent", "")
    try:
        await run_in_threadpool(with_database, lambda db: mfa_reset.confirm_reset(
            db, request.cookies.get(MFA_RESET_COOKIE), request.cookies.get(SESSION_COOKIE), ip=ip, device=device))
    except DomainError as exc:  # the page says which: a link no longer valid, or not this browser's login
        reason = "link" if str(exc) == mfa_reset.INVALID_LINK else "browser"
        return follow(request, "/login/verify?" + urlencode({"reset_error": reason}))
    response = follow(request, "/login?error=mfa_reset")
    for cookie in (MFA_RESET_COOKIE, SESSION_COOKIE):
        response.delete_cookie(cookie, path="/", secure=get_settings().cookie_secure, httponly=True, samesite="lax")
    return response
