"""CSV export of the audit log, for admins signed in with a session cookie."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from pkcrm_app.accounts.identity.cookies import SESSION_COOKIE
from pkcrm_app.accounts.identity.service import SessionInfo, resolve_session
from pkcrm_app.accounts.security.alerts import note_export
from pkcrm_app.accounts.security.audit_log import AuditFilter, export_csv
from pkcrm_app.core.authz import Actor, Permission
from pkcrm_app.core.db import get_database
from pkcrm_app.http.auth import client_ip


def _resolve(token: str | None) -> SessionInfo | None:
    with get_database().session() as db:
        return resolve_session(db, token)


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _note_export(actor: Actor) -> None:
    """After the export (audited when it started): alert the admins if this user exports unusually often."""
    with get_database().session() as db:
        note_export(db, actor_user_id=actor.user_id or 0, org_id=actor.org_id, kind="audit log")


def _stream(actor: Actor, flt: AuditFilter, ip: str, device: str) -> Iterator[str]:
    db = get_database().sessions()
    try:
        yield from export_csv(db, actor, flt, ip_address=ip, device=device)
    finally:
        db.close()


async def export_audit(request: Request) -> Response:
    info = await run_in_threadpool(_resolve, request.cookies.get(SESSION_COOKIE))
    if info is None:
        return PlainTextResponse("sign in first", status_code=401)
    if not info.actor.can(Permission.AUDIT_VIEW):
        return PlainTextResponse("your role may not export the audit log", status_code=403)
    if not info.actor.stepped_up:
        return PlainTextResponse("an export needs a fresh second factor: confirm it on the audit page first",
                                 status_code=403)
    params = request.query_params
    try:
        flt = AuditFilter(action=params.get("action", ""), actor_email=params.get("actor", ""),
                          since=_day(params.get("since")), until=_day(params.get("until")))
    except ValueError:
        return PlainTextResponse("dates must look like 2026-11-25", status_code=400)
    ip = client_ip(request)
    filename = f"audit-log-{date.today().isoformat()}.csv"
    return StreamingResponse(_stream(info.actor, flt, ip, request.headers.get("user-agent", "")), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'},
                             background=BackgroundTask(_note_export, info.actor))
