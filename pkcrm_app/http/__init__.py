"""Starlette routes mounted on the Reflex app. Each module lists its routes (`ROUTES`); they are put together
here, with the one answer to a DomainError (refusals.py) and to an oversized body (forms.py)."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute

from pkcrm_app.core.errors import DomainError
from pkcrm_app.http import audit_export, auth, chat_import, media, mfa, onboarding, sso, webhook, whatsapp_settings
from pkcrm_app.http.forms import BodyTooLarge, body_too_large
from pkcrm_app.http.refusals import answer_refusal
from pkcrm_app.http.routing import get


async def health(_request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def routes() -> list[BaseRoute]:
    """Every HTTP route of the app."""
    return [*webhook.ROUTES, *auth.ROUTES, *mfa.ROUTES, *sso.ROUTES, *onboarding.ROUTES, *audit_export.ROUTES,
            *media.ROUTES, *chat_import.ROUTES, *whatsapp_settings.ROUTES, get("/healthz", health)]


def build_api() -> Starlette:
    return Starlette(routes=routes(), exception_handlers={DomainError: answer_refusal, BodyTooLarge: body_too_large})
