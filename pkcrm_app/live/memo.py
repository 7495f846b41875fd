"""A process-level memo of what tabs show, kept while the live marks say nothing it depends on changed.

A push recomputes every linked tab's vars; a tab whose view no change concerns (a message for another
conversation than the open one) gets it from here instead of the database. Entries are per view key (who,
which lead, which page), so tabs of the same view share one read; another worker simply reads once itself.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from pkcrm_app.live.state import COUNTER_NAMES, Counter, OrgLive, changed_since

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Watches = Mapping[Counter, Collection[int] | None]  # counter -> the ids the view shows (None: all of them)


@dataclass(frozen=True)
class _Entry(Generic[V]):
    value: V
    revs: dict[Counter, int]  # the counters as they stood before the read
    watches: Watches
    read_at: float


class LiveMemo(Generic[K, V]):
    """Views by key, each with the counters and ids it watches; bounded (least recently used go first)."""

    def __init__(self, watches: Callable[[V], Watches], *, size: int = 512, max_age: float = 300.0) -> None:
        """`watches` names what a read value depends on. `max_age` bounds what no event names ('today' in a time)
        and is shorter than a shared state lives unused, so a state that expired and counts again from 0 cannot
        pass an older entry off as fresh."""
        self._watches, self._size, self._max_age = watches, size, max_age
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()

    def _fresh(self, entry: _Entry[V], live: OrgLive) -> bool:
        if time.monotonic() - entry.read_at > self._max_age:
            return False
        return not any(changed_since(live, counter, entry.revs[counter], ids) for counter, ids in entry.watches.items())

    async def read(self, key: K, live: OrgLive, load: Callable[[], V]) -> V:
        """The memoised view while still fresh for `live`, else `load()` run in a thread (errors are not kept)."""
        entry = self._entries.get(key)
        if entry is not None and self._fresh(entry, live):
            self._entries.move_to_end(key)
            return entry.value
        revs: dict[Counter, int] = {counter: getattr(live, counter) for counter in COUNTER_NAMES}
        value = await asyncio.to_thread(load)
        self._entries[key] = _Entry(value, revs, self._watches(value), time.monotonic())
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        self._entries.clear()
