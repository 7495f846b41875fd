"""Starlette routes mounted on the Reflex app: webhook, login/logout, health."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from pkcrm_app.routes.audit_export import export_audit
from pkcrm_app.routes.auth import login_route, logout_route
from pkcrm_app.routes.webhook import receive_webhook, verify_webhook


async def health(_request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def build_api() -> Starlette:
    return Starlette(routes=[
        Route("/webhooks/whatsapp", verify_webhook, methods=["GET"]),
        Route("/webhooks/whatsapp", receive_webhook, methods=["POST"]),
        Route("/auth/login", login_route, methods=["POST"]),
        Route("/auth/logout", logout_route, methods=["POST"]),
        Route("/audit/export.csv", export_audit, methods=["GET"]),
        Route("/healthz", health, methods=["GET"]),
    ])
