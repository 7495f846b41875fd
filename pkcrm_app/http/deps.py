"""What every route's work shares, written once: the client's address, the signed-in session behind the cookie
(looked up once per request), a database transaction for the work, and the answer that sends the browser on
(`follow`). How routes are declared (same-origin check, refusal policy) is routing.py."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from pkcrm_app.accounts.identity.cookies import SESSION_COOKIE
from pkcrm_app.accounts.identity.service import SessionInfo, resolve_session
from pkcrm_app.core.authz import Actor
from pkcrm_app.core.db import get_database
from pkcrm_app.core.errors import DomainError
from pkcrm_app.settings import get_settings

T = TypeVar("T")
NO_STORE = {"Cache-Control": "no-store"}


class SignedOut(DomainError):
    """No live session behind the request's cookie."""

    def __init__(self) -> None:
        super().__init__("sign in first")


def client_ip(request: Request) -> str:
    """The address of whoever sent the request: the one helper every HTTP route uses for it.

    X-Forwarded-For is written by whoever sends the request, so it is believed only when
    PKCRM_TRUSTED_PROXIES says how many reverse proxies of ours stand in front of the app; then the address
    the outermost of them saw is read from the right of the list (each proxy appends its peer), exactly as
    Reflex does for the websocket with `trusted_proxy_hops` (rxconfig.py feeds it the same setting), so a
    client cannot choose the address its sign-in attempts are counted under. Repeated headers are joined in
    order, as RFC 9110 says they combine."""
    peer = request.client.host if request.client else ""
    hops = get_settings().trusted_proxy_count
    if hops <= 0:
        return peer
    forwarded = [ip.strip() for value in request.headers.getlist("x-forwarded-for") for ip in value.split(",")
                 if ip.strip()]
    return forwarded[-hops][:64] if len(forwarded) >= hops else peer


def device_of(request: Request) -> str:
    """The browser's own description of itself (the audit log's "device")."""
    return request.headers.get("user-agent", "")


def wants_json(request: Request) -> bool:
    """Whether the caller is a page's fetch (it asks for JSON) rather than a plain form post."""
    return "application/json" in request.headers.get("accept", "")


def follow(request: Request, url: str) -> Response:
    """Where to go next: JSON for the page's fetch, a 303 for a plain form post."""
    if wants_json(request):
        return JSONResponse({"next": url})
    return RedirectResponse(url, status_code=303)


def _in_session(work: Callable[..., T], args: tuple[object, ...], kwargs: dict[str, object]) -> T:
    with get_database().session() as db:
        return work(db, *args, **kwargs)


async def in_transaction(work: Callable[..., T], /, *args: object, **kwargs: object) -> T:
    """Run `work(db, *args, **kwargs)` in the thread pool, in one transaction that the route owns: committed when
    `work` returns, rolled back when it raises (a refusal that was recorded is committed first, core/errors.py)."""
    return await run_in_threadpool(_in_session, work, args, kwargs)


async def run_flow(flow: Callable[..., T], /, **kwargs: object) -> T:
    """Run a flow (flows/), which owns its transactions, in the thread pool with the app's database."""
    return await run_in_threadpool(functools.partial(flow, get_database(), **kwargs))


async def current_session(request: Request) -> SessionInfo | None:
    """The signed-in session behind the request's cookie, looked up once per request (it counts as activity)."""
    if not hasattr(request.state, "session_info"):
        request.state.session_info = await in_transaction(resolve_session, request.cookies.get(SESSION_COOKIE))
    found: SessionInfo | None = request.state.session_info
    return found


async def signed_in(request: Request) -> SessionInfo:
    """The signed-in session; SignedOut (answered by the DomainError handler) without one."""
    info = await current_session(request)
    if info is None:
        raise SignedOut()
    return info


async def current_actor(request: Request) -> Actor:
    return (await signed_in(request)).actor


def done(request: Request, next_url: str) -> Response:
    """A form that went through: {"ok": true, "next"} for the page's fetch, a 303 for a plain form post."""
    if wants_json(request):
        return JSONResponse({"ok": True, "next": next_url}, headers=NO_STORE)
    return follow(request, next_url)
