"""Work that must wait for the caller's commit (mail about a change, dropping a cache entry): a service asks
for it while it writes, and it runs only once the transaction that holds the change has committed."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
_PENDING = "pkcrm_after_commit"


def after_commit(db: Session, action: Callable[[], object]) -> None:
    """Run `action` after the session's transaction commits; never when it rolls back."""
    db.info.setdefault(_PENDING, []).append(action)


@event.listens_for(Session, "after_commit")
def _run(db: Session) -> None:
    for action in db.info.pop(_PENDING, []):
        try:
            action()
        except Exception:  # the change is committed; a failed follow-up must not look like a failed change
            log.exception("work after a commit failed")


@event.listens_for(Session, "after_rollback")
def _drop(db: Session) -> None:
    db.info.pop(_PENDING, None)
