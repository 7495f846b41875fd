"""The tiny per-organisation shared state every open tab of that organisation is linked to."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Mapping
from typing import Literal, get_args

import reflex as rx

from pkcrm_app.core.db import get_database
from pkcrm_app.live import marks

Counter = Literal["leads_rev", "messages_rev", "alerts_rev", "imports_rev", "templates_rev"]
COUNTER_NAMES: tuple[Counter, ...] = get_args(Counter)


def link_token(org_id: int) -> str:
    """The organisation's shared-state token: an HMAC of its id under a server secret, so nobody can guess it
    and connect as it (Reflex forbids '_' in it; hex has none)."""
    key = get_database().keyring.master.derive("live-channel")
    return "org-" + hmac.new(key, str(org_id).encode(), hashlib.sha256).hexdigest()[:40]


class OrgLive(rx.SharedState):
    """Change counters, and for each the last few ids it moved for: a tab re-reads what it shows when a counter
    it watches moves for an id it shows (or for ids no longer told apart)."""

    leads_rev: int = 0  # leads created, moved, their conversation read
    messages_rev: int = 0
    alerts_rev: int = 0  # security alerts raised or acknowledged, access reviews started/decided/completed
    imports_rev: int = 0  # chat-export import jobs: queued, progressing, finished
    templates_rev: int = 0  # message templates defined or synced
    # Backend only (browsers never get them), bounded by marks.RECENT per counter: counter -> marks.
    _recent: dict[str, list[tuple[int, int]]] = {}  # noqa: RUF012 (Reflex state field)
    _floor: dict[str, int] = {}  # noqa: RUF012 (Reflex state field)


def record_changes(live: OrgLive, changes: Mapping[Counter, Collection[int] | None]) -> None:
    """Move each counter once, remembering the ids it moved for (None: ids nobody named)."""
    recent, floor = dict(live._recent), dict(live._floor)
    for counter, ids in changes.items():
        rev = getattr(live, counter) + 1
        setattr(live, counter, rev)
        recent[counter], floor[counter] = marks.note(recent.get(counter, []), floor.get(counter, 0), ids, rev)
    live._recent, live._floor = recent, floor


def changed_since(live: OrgLive, counter: Counter, rev: int, ids: Collection[int] | None) -> bool:
    """Whether what a tab read when `counter` stood at `rev` may be out of date for `ids` (None: any change)."""
    return marks.changed_since(live._recent.get(counter, []), live._floor.get(counter, 0), getattr(live, counter),
                               rev, ids)
