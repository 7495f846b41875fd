"""Starlette routes mounted on the Reflex app: webhook, login/logout, health."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from pkcrm_app.http import onboarding
from pkcrm_app.http.audit_export import export_audit
from pkcrm_app.http.auth import login_route, logout_route
from pkcrm_app.http.chat_import import upload_route as import_upload_route
from pkcrm_app.http.forms import BodyTooLarge, body_too_large
from pkcrm_app.http.media import media_route
from pkcrm_app.http.mfa import (
    confirm_enrolment,
    confirm_factor_reset,
    enrolment_qr,
    factor_reset_link,
    lost_authenticator,
    replace_recovery_codes,
    step_up,
    verify_login_code,
)
from pkcrm_app.http.sso import callback_route, link_route, settings_route, start_route
from pkcrm_app.http.webhook import receive_webhook, verify_webhook
from pkcrm_app.http.whatsapp_settings import save_route as whatsapp_save_route
from pkcrm_app.http.whatsapp_settings import upload_route as whatsapp_upload_route


async def health(_request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def build_api() -> Starlette:
    return Starlette(routes=[
        Route("/webhooks/whatsapp", verify_webhook, methods=["GET"]),
        Route("/webhooks/whatsapp", receive_webhook, methods=["POST"]),
        Route("/auth/login", login_route, methods=["POST"]),
        Route("/auth/logout", logout_route, methods=["POST"]),
        Route("/auth/mfa/verify", verify_login_code, methods=["POST"]),
        Route("/auth/mfa/qr.svg", enrolment_qr, methods=["GET"]),
        Route("/auth/mfa/enrol", confirm_enrolment, methods=["POST"]),
        Route("/auth/mfa/recovery-codes", replace_recovery_codes, methods=["POST"]),
        Route("/auth/step-up", step_up, methods=["POST"]),
        Route("/auth/mfa/lost", lost_authenticator, methods=["POST"]),
        Route("/auth/mfa/reset/{token}", factor_reset_link, methods=["GET"]),
        Route("/auth/mfa/reset", confirm_factor_reset, methods=["POST"]),
        Route("/auth/sso/start", start_route, methods=["GET"]),
        Route("/auth/sso/callback", callback_route, methods=["GET"]),
        Route("/auth/sso/link", link_route, methods=["POST"]),
        Route("/settings/sso/save", settings_route, methods=["POST"]),
        Route("/auth/signup", onboarding.signup_route, methods=["POST"]),
        Route("/auth/signup/confirm", onboarding.confirm_signup_route, methods=["POST"]),
        Route("/auth/signup/confirm/{token}", onboarding.signup_link_route, methods=["GET"]),
        Route("/auth/invite/accept", onboarding.accept_invite_route, methods=["POST"]),
        Route("/auth/invite/{token}", onboarding.invite_link_route, methods=["GET"]),
        Route("/auth/forgot", onboarding.forgot_route, methods=["POST"]),
        Route("/auth/reset", onboarding.reset_route, methods=["POST"]),
        Route("/auth/reset/{token}", onboarding.reset_link_route, methods=["GET"]),
        Route("/auth/password", onboarding.change_password_route, methods=["POST"]),
        Route("/audit/export.csv", export_audit, methods=["GET"]),
        Route("/media/{message_id}", media_route, methods=["GET"]),
        Route("/import/upload", import_upload_route, methods=["POST"]),
        Route("/settings/whatsapp/save", whatsapp_save_route, methods=["POST"]),
        Route("/messages/media", whatsapp_upload_route, methods=["POST"]),
        Route("/healthz", health, methods=["GET"]),
    ], exception_handlers={BodyTooLarge: body_too_large})
