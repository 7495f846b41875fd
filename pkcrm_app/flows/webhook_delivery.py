"""A verified webhook delivery, from its parsed batches to committed rows.

The route has checked size and signature and parsed the body; here receipts naming our outbox keys are tied to
their rows first (so statuses land on the right message), then each organisation's batches are stored in one
transaction of their own, retried after a lost race; when that fails for good each item is stored on its own,
so one bad message never loses the others of its delivery (the bad one is logged and counted).
"""

from __future__ import annotations

import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import IntegrityError, OperationalError

from pkcrm_app.channels.whatsapp.webhook import ChangeBatch
from pkcrm_app.core.db import Database
from pkcrm_app.inbox.inbound import IngestReport, LostRace, ingest_batches
from pkcrm_app.inbox.outbox import receipts

log = logging.getLogger("pkcrm.webhook")
ATTEMPTS = 5
OrgOf = Callable[[str], "int | None"]  # phone_number_id -> its organisation, None for a number not connected here


def deliver(database: Database, payload: Any, batches: list[ChangeBatch], org_of: OrgOf) -> IngestReport:
    """Store a delivery's batches for the organisations owning their numbers; batches of unknown numbers are
    left out (the route logged them)."""
    if any(batch.statuses for batch in batches):
        reconcile_receipts(database, payload, org_of)
    by_org: dict[int, list[ChangeBatch]] = defaultdict(list)
    for batch in batches:
        org_id = org_of(batch.phone_number_id)
        if org_id is None:
            continue
        for reason in batch.skipped:
            log.warning("webhook item skipped for %s: %s", batch.phone_number_id, reason)
        by_org[org_id].append(batch)
    report = IngestReport()
    for org_id, org_batches in by_org.items():
        report.add(ingest(database, org_id, org_batches))
    return report


def reconcile_receipts(database: Database, payload: Any, org_of: OrgOf) -> int:
    """Outbox rows named by the delivery's receipts marked sent, one transaction per number; returns the count."""
    changed = 0
    for phone, by_key in receipts.receipts_in(payload).items():
        org_id = org_of(phone)
        if org_id is None:
            continue
        with database.session() as db:
            changed += receipts.reconcile(db, org_id, by_key)
    return changed


def ingest(database: Database, org_id: int, batches: list[ChangeBatch]) -> IngestReport:
    """One organisation's batches in one transaction; item by item when that fails for good."""
    try:
        return _ingest_retrying(database, org_id, batches)
    except Exception:
        items = _one_item_batches(batches)
        if len(items) <= 1:
            raise
        log.exception("webhook delivery of %d items failed as a whole; storing them one by one", len(items))
    report = IngestReport()
    for item in items:
        try:
            report.add(_ingest_retrying(database, org_id, [item]))
        except Exception:
            what = item.messages[0].wa_message_id if item.messages else item.statuses[0].wa_message_id
            log.exception("webhook item %s could not be stored", what)
            report.failed += 1
    return report


def _one_item_batches(batches: list[ChangeBatch]) -> list[ChangeBatch]:
    return [ChangeBatch(phone_number_id=b.phone_number_id, messages=[m]) for b in batches for m in b.messages] + [
        ChangeBatch(phone_number_id=b.phone_number_id, statuses=[s]) for b in batches for s in b.statuses]


def _is_transient(exc: Exception) -> bool:
    """A lost race: a unique key taken meanwhile, a deadlock, a busy SQLite file."""
    if isinstance(exc, IntegrityError | LostRace):
        return True
    text = f"{type(getattr(exc, 'orig', exc)).__name__} {exc}".lower()
    return any(s in text for s in ("deadlock", "serializ", "database is locked", "could not obtain lock"))


def _ingest_retrying(database: Database, org_id: int, batches: list[ChangeBatch]) -> IngestReport:
    """One transaction, retried after a lost race."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with database.session() as db:
                return ingest_batches(db, org_id, batches)
        except (IntegrityError, OperationalError, LostRace) as exc:
            if attempt == ATTEMPTS or not _is_transient(exc):
                raise
            log.info("webhook delivery raced another (%s); retry %d", type(getattr(exc, "orig", exc)).__name__, attempt)
            time.sleep(random.uniform(0.01, 0.05) * attempt)
    raise AssertionError("unreachable")
