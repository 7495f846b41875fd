"""The tab's side of the live channel: its copy of its organisation's change counters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

import reflex as rx

Counter = Literal["leads_rev", "messages_rev", "alerts_rev", "imports_rev", "templates_rev"]
COUNTER_NAMES: tuple[Counter, ...] = get_args(Counter)


class LiveTab(rx.State):
    """Change counters of the tab's organisation, as the live bridge last pushed them to this tab alone.

    A page var that reads a counter is recomputed when it moves; what it then reads goes through the worker's view
    cache (live/memo.py), so a change costs one query per distinct view, not one per tab. No handlers: only the
    server moves these."""

    leads_rev: int = 0  # leads created, moved, their conversation read
    messages_rev: int = 0
    alerts_rev: int = 0  # security alerts raised or acknowledged, access reviews started/decided/completed
    imports_rev: int = 0  # chat-export import jobs: queued, progressing, finished
    templates_rev: int = 0  # message templates defined or synced
    _org_id: int = 0  # the organisation whose counters these are (0: signed out)


def mark_moved(tab: LiveTab, counters: Iterable[Counter] = COUNTER_NAMES) -> None:
    """Move the tab's copies of these counters (all by default): the page vars that read them are recomputed (their
    reads still go through the view cache)."""
    for counter in counters:
        setattr(tab, counter, getattr(tab, counter) + 1)
