"""CSV export of the audit log, for admins signed in with a session cookie."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from pkcrm_app.accounts.security.alerts import note_export
from pkcrm_app.accounts.security.audit_log import AuditFilter, export_csv, record_export
from pkcrm_app.core.authz import Actor, Permission
from pkcrm_app.core.db import get_database
from pkcrm_app.core.errors import InvalidInput, PermissionDenied, StepUpRequired
from pkcrm_app.http.deps import client_ip, current_actor, device_of, in_transaction
from pkcrm_app.http.routing import get


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _note_export(actor: Actor) -> None:
    """After the export (audited when it started): alert the admins if this user exports unusually often."""
    with get_database().session() as db:
        note_export(db, actor_user_id=actor.user_id or 0, org_id=actor.org_id, kind="audit log")


def _stream(actor: Actor, flt: AuditFilter) -> Iterator[str]:
    db = get_database().sessions()  # reads only: the export was audited (and committed) before the first row
    try:
        yield from export_csv(db, actor, flt)
    finally:
        db.close()


async def export_audit(request: Request) -> Response:
    actor = await current_actor(request)
    if not actor.can(Permission.AUDIT_VIEW):
        raise PermissionDenied("your role may not export the audit log")
    if not actor.stepped_up:
        raise StepUpRequired("an export needs a fresh second factor: confirm it on the audit page first")
    params = request.query_params
    try:
        flt = AuditFilter(action=params.get("action", ""), actor_email=params.get("actor", ""),
                          since=_day(params.get("since")), until=_day(params.get("until")))
    except ValueError:
        raise InvalidInput("dates must look like 2026-11-25") from None
    await in_transaction(record_export, actor, flt, ip_address=client_ip(request), device=device_of(request))
    filename = f"audit-log-{date.today().isoformat()}.csv"
    return StreamingResponse(_stream(actor, flt), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'},
                             background=BackgroundTask(_note_export, actor))


ROUTES: list[Route] = [get("/audit/export.csv", export_audit)]
