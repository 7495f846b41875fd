"""The owner deletes the organisation: every row of its data goes, its members' sessions end, and people
who belonged to no other organisation lose their personal details. The audit log stays (it is
append-only and tamper-evident), filed under the emptied organisation row, which keeps only its id."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Table, delete, event, func, select
from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity.models import Membership, MfaFactor, MfaRecoveryCode, Organisation, User
from pkcrm_app.accounts.organisations.onboarding_models import PasswordReset
from pkcrm_app.audit.service import record
from pkcrm_app.core.authz import Actor, Permission
from pkcrm_app.core.db import Base
from pkcrm_app.core.errors import InvalidInput, NotFound
from pkcrm_app.core.events import SessionsEnded, emit_on_commit
from pkcrm_app.core.keyring import DataKey, Keyring, keyring_for, organisation_scope
from pkcrm_app.flows import registry
from pkcrm_app.storage.store import blob_store


def _org_tables() -> list[Table]:
    """Every table the registry names as holding organisation data, children before parents."""
    named = set(registry.tables(registry.ORGANISATION_ROWS))
    return [table for table in reversed(Base.metadata.sorted_tables) if table in named]


def _rows_of(table: Table, org_id: int) -> ColumnElement[bool]:
    """The organisation's rows of `table`: by its org_id, or through the parent it belongs to."""
    if "org_id" in table.c:
        return table.c.org_id == org_id
    for key in table.foreign_keys:
        parent = key.column.table
        if "org_id" in parent.c:
            return key.parent.in_(select(key.column).where(parent.c.org_id == org_id))
    raise RuntimeError(f"{table.name} has neither org_id nor a parent with one")


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
    for table in _org_tables():
        result = db.execute(delete(table).where(_rows_of(table, org.id)))
        if result.rowcount:  # type: ignore[attr-defined]
            removed[table.name] = int(result.rowcount)  # type: ignore[attr-defined]
    scope = organisation_scope(org.id)  # its blob key: a copy of a file kept elsewhere stays sealed for good
    if erased := db.execute(delete(DataKey).where(DataKey.scope == scope)).rowcount:  # type: ignore[attr-defined]
        removed["blob_keys"] = int(erased)
    removed["people_forgotten"] = _forget_people_of_no_other_organisation(db, members)
    record(db, action="organisation.deleted", org_id=org.id, actor_user_id=None, target_type="organisation",
           target_id=org.id, details={"by_user_id": actor.user_id, **{k: str(v) for k, v in removed.items()}})
    org.name, org.slug = "Deleted organisation", f"deleted-{org.id}"
    emit_on_commit(db, SessionsEnded(org_id=org.id, user_ids=tuple(members)))
    keyring, org_id = keyring_for(db.get_bind().dialect), org.id  # files go once the rows are gone for good
    event.listen(db, "after_commit", lambda _db: _remove_files(keyring, org_id), once=True)
    return removed


def _remove_files(keyring: Keyring, org_id: int) -> None:
    """Every blob scope of the organisation; its key (erased with the rows) leaves this process's memory too."""
    store = blob_store(keyring)
    for scope in registry.ORGANISATION_FILES:
        store.delete_scope(org_id, scope)
    keyring.forget_scope(organisation_scope(org_id))


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
