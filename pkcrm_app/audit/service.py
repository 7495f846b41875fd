"""Recording audit events (the caller's transaction commits them with the change they describe) and
verifying that each organisation's chain of events is intact."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, select, text
from sqlalchemy.orm import Session

from pkcrm_app.audit.chain import GENESIS_HASH, HASHED_FIELDS, entry_hash, normalise_details
from pkcrm_app.audit.models import AuditEvent
from pkcrm_app.core.db import utcnow

# The IP address and device of whoever is acting, for entries whose caller does not name them.
_CLIENT: ContextVar[tuple[str, str]] = ContextVar("audit_client", default=("", ""))


@contextmanager
def acting_from(ip_address: str, device: str) -> Iterator[None]:
    """Audit entries recorded inside (also in threads started inside) carry this IP address and device."""
    token = _CLIENT.set((ip_address, device))
    try:
        yield
    finally:
        _CLIENT.reset(token)


# First key of the two-key PostgreSQL advisory lock ("audt"); the second is the organisation id, 0 for none.
_CHAIN_LOCK_SPACE = 0x61756474


def _chain(org_id: int | None) -> ColumnElement[bool]:
    return AuditEvent.org_id.is_(None) if org_id is None else AuditEvent.org_id == org_id


def _lock_chain(db: Session, org_id: int | None) -> None:
    """Hold the chain until commit, so two transactions never link to the same previous entry."""
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(CAST(:space AS integer), CAST(:key AS integer))"),
                   {"space": _CHAIN_LOCK_SPACE, "key": org_id or 0})
    elif dialect == "sqlite":
        # pysqlite runs SELECTs outside a transaction, so the read of the previous hash would not be
        # serialised with the insert. A write that touches no row opens the write transaction first.
        db.execute(text("UPDATE audit_event SET id = id WHERE 0"))


def record(
    db: Session,
    *,
    action: str,
    org_id: int | None,
    actor_user_id: int | None = None,
    target_type: str = "",
    target_id: str | int = "",
    details: dict[str, Any] | None = None,
    ip_address: str = "",
    device: str = "",
) -> AuditEvent:
    """Append one audit event to the current transaction, linked to the latest event of its organisation.

    The chain stays locked until the caller's transaction ends: record late in the transaction.
    """
    ip_address, device = ip_address or _CLIENT.get()[0], device or _CLIENT.get()[1]
    _lock_chain(db, org_id)
    db.flush()  # earlier events of this transaction must be visible to the read below, whatever autoflush says
    latest = db.scalar(select(AuditEvent.entry_hash).where(_chain(org_id)).order_by(AuditEvent.id.desc()).limit(1))
    prev_hash = GENESIS_HASH if latest is None else latest
    fields: dict[str, Any] = {
        "org_id": org_id, "actor_user_id": actor_user_id, "action": action, "target_type": target_type,
        "target_id": str(target_id), "details": normalise_details(details), "ip_address": ip_address,
        "device": device[:400], "created_at": utcnow(),
    }
    event = AuditEvent(**fields, prev_hash=prev_hash, entry_hash=entry_hash(fields, prev_hash))
    db.add(event)
    return event


class Mismatch(StrEnum):
    """What about an entry does not check out."""

    ENTRY_HASH = "entry hash"  # its contents were changed after it was written
    PREV_LINK = "link to previous"  # the entry before it was removed, inserted or rewritten


@dataclass(frozen=True)
class ChainReport:
    """The outcome of walking one organisation's chain: intact, or where it first breaks."""

    org_id: int | None
    intact_entries: int  # entries verified before the first altered one (all of them when ok)
    head_hash: str  # entry hash of the last intact entry; note it down to detect a later truncation
    altered_entry_id: int | None = None
    mismatch: Mismatch | None = None
    previous_entry_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.altered_entry_id is None

    def summary(self) -> str:
        """One line for an auditor."""
        chain = "no organisation" if self.org_id is None else f"organisation {self.org_id}"
        entries = "1 entry" if self.intact_entries == 1 else f"{self.intact_entries} entries"
        if self.ok:
            return f"{chain}: intact, {entries}, head {self.head_hash}"
        if self.mismatch is Mismatch.ENTRY_HASH:
            why = "its contents no longer match its entry hash"
        else:
            before = f"entry {self.previous_entry_id}" if self.previous_entry_id else "the start of the chain"
            why = f"its prev_hash does not link to {before}; an entry before it was removed or rewritten"
        return f"{chain}: ALTERED at entry {self.altered_entry_id}: {why} ({entries} before it intact)"


def verify_chain(db: Session, org_id: int | None) -> ChainReport:
    """Walk one chain in id order, recomputing every hash; stop at the first entry that does not check out."""
    hashed = (getattr(AuditEvent, name) for name in HASHED_FIELDS)
    columns = [AuditEvent.id, AuditEvent.prev_hash, AuditEvent.entry_hash, *hashed]
    rows = db.execute(select(*columns).where(_chain(org_id)).order_by(AuditEvent.id).execution_options(yield_per=1000))
    expected_prev, previous_id, intact = GENESIS_HASH, None, 0
    for row in rows.mappings():
        mismatch = None
        if entry_hash(dict(row), row["prev_hash"]) != row["entry_hash"]:
            mismatch = Mismatch.ENTRY_HASH
        elif row["prev_hash"] != expected_prev:
            mismatch = Mismatch.PREV_LINK
        if mismatch is not None:
            return ChainReport(org_id, intact, expected_prev, row["id"], mismatch, previous_id)
        expected_prev, previous_id, intact = row["entry_hash"], row["id"], intact + 1
    return ChainReport(org_id, intact, expected_prev)


def chain_org_ids(db: Session) -> list[int | None]:
    """Every chain in the log: one per organisation with events, None for events without one."""
    org_ids = db.scalars(select(AuditEvent.org_id).distinct()).all()
    return sorted(org_ids, key=lambda org_id: -1 if org_id is None else org_id)
