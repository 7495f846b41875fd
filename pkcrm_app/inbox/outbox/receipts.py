"""Status webhooks carrying our outbox key (`biz_opaque_callback_data`): tie a wamid to its outbox row.

Run before the statuses are applied, so a receipt that beats the sender's own bookkeeping (or follows a
sender crash) still lands on the right message, and an unconfirmed send is confirmed instead of repeated.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pkcrm_app.inbox.outbox.models import OutboxItem, OutboxState
from pkcrm_app.inbox.outbox.sender import mark_sent

log = logging.getLogger("pkcrm.outbox")


def receipts_in(payload: Any) -> dict[str, dict[str, str]]:
    """{phone_number_id: {key: wamid}} for every status that echoes a key; pure, tolerant of any shape."""
    found: dict[str, dict[str, str]] = defaultdict(dict)
    if not isinstance(payload, dict):
        return found
    for entry in payload.get("entry") or []:
        for change in (entry.get("changes") or []) if isinstance(entry, dict) else []:
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict):
                continue
            metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
            phone = str((metadata or {}).get("phone_number_id") or "")
            for status in value.get("statuses") or []:
                if not isinstance(status, dict):
                    continue
                key, wamid = status.get("biz_opaque_callback_data"), status.get("id")
                if phone and isinstance(key, str) and isinstance(wamid, str) and key and wamid:
                    found[phone][key[:64]] = wamid
    return found


def reconcile(db: Session, org_id: int, by_key: dict[str, str]) -> int:
    """Mark each of the organisation's outbox rows named by a receipt (key -> wamid) as sent with the receipt's
    wamid; returns the rows changed."""
    changed = 0
    items = db.scalars(select(OutboxItem).where(OutboxItem.org_id == org_id,
                                                OutboxItem.idempotency_key.in_(sorted(by_key)))
                       .order_by(OutboxItem.id))
    for item in items:
        wamid = by_key[item.idempotency_key]
        if item.state == OutboxState.SENT:
            if item.wa_message_id and item.wa_message_id != wamid:
                log.error("outbox item %s has a second wamid %s: it was delivered twice", item.id, wamid)
                item.last_error = f"WhatsApp reports a second copy ({wamid}): the customer got it twice"
            continue
        if item.state == OutboxState.FAILED:
            continue
        mark_sent(db, item, wamid)
        changed += 1
    return changed
