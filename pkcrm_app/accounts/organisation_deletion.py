"""The owner deletes the organisation: every row of its data goes, its members' sessions end, and people
who belonged to no other organisation lose their personal details. The audit log stays (it is
append-only and tamper-evident), filed under the emptied organisation row, which keeps only its id."""

from __future__ import annotations

import shutil

from sqlalchemy import delete, event, func, select
from sqlalchemy.orm import Session

from pkcrm_app.accounts.models import Membership, MfaFactor, MfaRecoveryCode, Organisation, User
from pkcrm_app.accounts.onboarding_models import PasswordReset
from pkcrm_app.accounts.permissions import Actor, Permission
from pkcrm_app.audit.service import record
from pkcrm_app.core.db import Base
from pkcrm_app.core.errors import InvalidInput, NotFound
from pkcrm_app.core.events import DomainEvent, emit_on_commit
from pkcrm_app.whatsapp.media_jobs import org_media_dir

KEPT_TABLES = frozenset({"audit_event", "organisation"})


def _org_tables() -> list[str]:
    """Every table holding organisation data, children before parents."""
    return [table.name for table in reversed(Base.metadata.sorted_tables)
            if "org_id" in table.c and table.name not in KEPT_TABLES]


def delete_organisation(db: Session, actor: Actor, *, confirm_name: str) -> dict[str, int]:
    """Delete everything the organisation holds (owner only, fresh second factor, its name typed to confirm);
    returns how many rows of each kind went. The caller commits."""
    actor.require_step_up(Permission.ORGANISATION_DELETE)
    org = db.get(Organisation, actor.org_id)
    if org is None:
        raise NotFound("no such organisation")
    if confirm_name.strip() != org.name:
        raise InvalidInput("type the organisation's name exactly to confirm")
    members = list(db.scalars(select(Membership.user_id).where(Membership.org_id == org.id)))
    removed: dict[str, int] = {}
    for name in _org_tables():
        table = Base.metadata.tables[name]
        result = db.execute(delete(table).where(table.c.org_id == org.id))
        if result.rowcount:  # type: ignore[attr-defined]
            removed[name] = int(result.rowcount)  # type: ignore[attr-defined]
    removed["people_forgotten"] = _forget_people_of_no_other_organisation(db, members)
    record(db, action="organisation.deleted", org_id=org.id, actor_user_id=None, target_type="organisation",
           target_id=org.id, details={"by_user_id": actor.user_id, **{k: str(v) for k, v in removed.items()}})
    org.name, org.slug = "Deleted organisation", f"deleted-{org.id}"
    emit_on_commit(db, DomainEvent(org.id, "sessions"))
    media = org_media_dir(org.id)  # the files go once the rows are gone for good
    event.listen(db, "after_commit", lambda _db: shutil.rmtree(media, ignore_errors=True), once=True)
    return removed


def _forget_people_of_no_other_organisation(db: Session, user_ids: list[int]) -> int:
    """Members left without any organisation: sign-in details, second factor and personal details removed."""
    forgotten = 0
    for user_id in user_ids:
        elsewhere = db.scalar(select(func.count()).select_from(Membership).where(Membership.user_id == user_id))
        user = db.get(User, user_id)
        if elsewhere or user is None:
            continue
        user.email, user.name = f"deleted-user-{user.id}@deleted.invalid", "Deleted user"
        user.password_hash, user.is_active, user.phone = "!", False, None
        db.execute(delete(MfaFactor).where(MfaFactor.user_id == user_id))
        db.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id))
        db.execute(delete(PasswordReset).where(PasswordReset.user_id == user_id))
        forgotten += 1
    return forgotten
