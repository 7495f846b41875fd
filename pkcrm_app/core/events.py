"""Domain events: services record them during a transaction; subscribers get them after commit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

Subscriber = Callable[[list["DomainEvent"]], None]
_subscribers: list[Subscriber] = []
_PENDING = "pkcrm_pending_events"


@dataclass(frozen=True)
class DomainEvent:
    """Something changed in one organisation: a topic ('messages', 'leads') and the ids touched."""

    org_id: int
    topic: str
    ids: tuple[int, ...] = field(default_factory=tuple)


def subscribe(subscriber: Subscriber) -> None:
    if subscriber not in _subscribers:
        _subscribers.append(subscriber)


def unsubscribe(subscriber: Subscriber) -> None:
    if subscriber in _subscribers:
        _subscribers.remove(subscriber)


def emit_on_commit(db: Session, evt: DomainEvent) -> None:
    """Queue an event that is delivered only if the surrounding transaction commits."""
    db.info.setdefault(_PENDING, []).append(evt)


@event.listens_for(Session, "after_commit")
def _deliver(db: Session) -> None:
    pending: list[DomainEvent] = db.info.pop(_PENDING, [])
    if not pending:
        return
    for subscriber in list(_subscribers):
        try:
            subscriber(pending)
        except Exception:  # a broken subscriber must not undo a committed change
            log.exception("event subscriber %r failed", subscriber)


@event.listens_for(Session, "after_rollback")
def _discard(db: Session) -> None:
    db.info.pop(_PENDING, None)
