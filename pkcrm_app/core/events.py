"""Domain events: services record them during a transaction; subscribers get them after commit.

Every event is one typed class below, named by a member of `Topic` and keeping the ids it touched, so the
live layer can tell an open tab whether a change concerns what it shows. Services emit them with
`emit_on_commit(db, SomeEvent(...))`; a rollback drops them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


class Topic(StrEnum):
    """What changed; the live bridge maps each topic to the counters tabs watch (`live.bridge.COUNTERS`)."""

    LEADS = "leads"  # leads created or their card changed (inbound, chat import)
    LEAD_MOVED = "lead_moved"
    CONVERSATION_READ = "conversation_read"
    MESSAGES = "messages"  # messages stored, sent, delivered, failed, their media downloaded
    TEMPLATES = "templates"
    IMPORTS = "imports"
    ALERTS = "alerts"
    REVIEWS = "reviews"
    SESSIONS = "sessions"  # sessions ended: their tabs are cut off


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Something changed in one organisation; subclasses name the topic and keep the ids touched."""

    topic: ClassVar[Topic]
    org_id: int

    def marks(self) -> tuple[int, ...]:
        """The ids a tab compares with what it shows (empty: the change may concern anything of its topic)."""
        return ()


@dataclass(frozen=True, kw_only=True)
class LeadsChanged(DomainEvent):
    topic: ClassVar[Topic] = Topic.LEADS
    lead_ids: tuple[int, ...]

    def marks(self) -> tuple[int, ...]:
        return self.lead_ids


@dataclass(frozen=True, kw_only=True)
class LeadMoved(DomainEvent):
    topic: ClassVar[Topic] = Topic.LEAD_MOVED
    lead_id: int
    from_stage_id: int
    to_stage_id: int

    def marks(self) -> tuple[int, ...]:
        return (self.lead_id,)


@dataclass(frozen=True, kw_only=True)
class ConversationRead(DomainEvent):
    """The unread badge of a lead's conversation was cleared."""

    topic: ClassVar[Topic] = Topic.CONVERSATION_READ
    lead_id: int

    def marks(self) -> tuple[int, ...]:
        return (self.lead_id,)


@dataclass(frozen=True, kw_only=True)
class MessagesChanged(DomainEvent):
    """Messages of these conversations were stored or changed (`message_ids` empty when too many to name)."""

    topic: ClassVar[Topic] = Topic.MESSAGES
    conversation_ids: tuple[int, ...]
    message_ids: tuple[int, ...] = ()

    def marks(self) -> tuple[int, ...]:
        return self.conversation_ids


@dataclass(frozen=True, kw_only=True)
class TemplatesChanged(DomainEvent):
    topic: ClassVar[Topic] = Topic.TEMPLATES
    template_ids: tuple[int, ...]

    def marks(self) -> tuple[int, ...]:
        return self.template_ids


@dataclass(frozen=True, kw_only=True)
class ImportsChanged(DomainEvent):
    """A chat-export import was queued, moved on or finished."""

    topic: ClassVar[Topic] = Topic.IMPORTS
    job_id: int

    def marks(self) -> tuple[int, ...]:
        return (self.job_id,)


@dataclass(frozen=True, kw_only=True)
class AlertsChanged(DomainEvent):
    """A security alert was raised or acknowledged."""

    topic: ClassVar[Topic] = Topic.ALERTS
    alert_id: int

    def marks(self) -> tuple[int, ...]:
        return (self.alert_id,)


@dataclass(frozen=True, kw_only=True)
class ReviewsChanged(DomainEvent):
    """An access review was started, decided or completed."""

    topic: ClassVar[Topic] = Topic.REVIEWS
    review_id: int

    def marks(self) -> tuple[int, ...]:
        return (self.review_id,)


@dataclass(frozen=True, kw_only=True)
class SessionsEnded(DomainEvent):
    """Sessions of these users ended (logout, revocation, role change, organisation deletion)."""

    topic: ClassVar[Topic] = Topic.SESSIONS
    user_ids: tuple[int, ...]


EVENT_TYPES: tuple[type[DomainEvent], ...] = (
    LeadsChanged, LeadMoved, ConversationRead, MessagesChanged, TemplatesChanged, ImportsChanged, AlertsChanged,
    ReviewsChanged, SessionsEnded,
)

Subscriber = Callable[[list[DomainEvent]], None]
_subscribers: list[Subscriber] = []
_PENDING = "pkcrm_pending_events"


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
