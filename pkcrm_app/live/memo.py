"""A worker-level cache of what tabs show, kept while the organisation's marks say nothing it depends on changed.

A push recomputes the vars of every tab it reaches; tabs showing the same view (same organisation and
visibility, page and filters) get one read between them, and a tab whose view no change concerns (a message for
another conversation than the open one) gets its last read. Reads of one key in flight are shared, so a hundred
tabs recomputed at once cost one query. Another worker simply reads once itself.

A push first reads again the views a change made stale (`prime_all`), before it takes any tab's lock: the tabs
then find their views read and hold their locks for no query, so a tab's own click right after a change waits
for no database.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Collection, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pkcrm_app.live.hub import OrgMarks
from pkcrm_app.live.state import Counter

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Watches = Mapping[Counter, Collection[int] | None]  # counter -> the ids the view shows (None: all of them)


@dataclass(frozen=True)
class _Entry(Generic[V]):
    value: V
    revs: dict[Counter, int]  # the counters as they stood before the read
    watches: Watches
    read_at: float
    marks: OrgMarks  # the organisation's marks it was read for
    load: Callable[[], V]  # how to read it again


class LiveMemo(Generic[K, V]):
    """Views by key, each with the counters and ids it watches; bounded (least recently used go first)."""

    def __init__(self, watches: Callable[[V], Watches], *, size: int = 512, max_age: float = 300.0) -> None:
        """`watches` names what a read value depends on; `max_age` bounds what no event names ('today' in a
        time)."""
        self._watches, self._size, self._max_age = watches, size, max_age
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._used: dict[K, float] = {}  # when a tab last read each view
        self._primed: dict[int, float] = {}  # id of an organisation's marks -> when its views were last primed
        self._reading: dict[K, tuple[dict[Counter, int], asyncio.Future[V]]] = {}
        _MEMOS.add(self)

    def _fresh(self, entry: _Entry[V], marks: OrgMarks) -> bool:
        if time.monotonic() - entry.read_at > self._max_age:
            return False
        return not any(marks.changed_since(counter, entry.revs[counter], ids) for counter, ids in entry.watches.items())

    async def read(self, key: K, marks: OrgMarks, load: Callable[[], V], *, by_tab: bool = True) -> V:
        """The cached view while still fresh for `marks`, else `load()` run in a thread (errors are not kept);
        `by_tab`: a tab shows it (a push priming it does not count)."""
        if by_tab:
            self._used[key] = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and self._fresh(entry, marks):
            self._entries.move_to_end(key)
            return entry.value
        revs = dict(marks.revs)
        reading = self._reading.get(key)
        if reading is not None and reading[0] == revs:
            try:
                return await asyncio.shield(reading[1])  # the same read, started by another tab
            except asyncio.CancelledError:
                if not reading[1].cancelled():
                    raise  # this tab's own event was cancelled
                # the tab that started the read went away before it finished: read here instead
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._reading[key] = (revs, future)
        try:
            value = await asyncio.to_thread(load)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: tabs that shared it raise it themselves
            raise
        finally:
            if self._reading.get(key, (None, None))[1] is future:
                del self._reading[key]
        future.set_result(value)
        self._entries[key] = _Entry(value, revs, self._watches(value), time.monotonic(), marks, load)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._used.pop(self._entries.popitem(last=False)[0], None)
        return value

    async def prime(self, marks: OrgMarks) -> int:
        """Read again the organisation's views that tabs read since the last priming for it (the views tabs show
        now: each push has every tab read its view) and that are stale now; how many were read. A failed read is
        left to the tabs' own reads (which report it)."""
        since = self._primed.get(id(marks), float("-inf"))
        self._primed[id(marks)] = time.monotonic()
        stale = [(key, entry) for key, entry in self._entries.items() if entry.marks is marks
                 and self._used.get(key, float("-inf")) >= since and not self._fresh(entry, marks)]
        await asyncio.gather(*(self.read(key, marks, entry.load, by_tab=False) for key, entry in stale),
                             return_exceptions=True)
        return len(stale)

    def clear(self) -> None:
        self._entries.clear()
        self._used.clear()
        self._primed.clear()
        self._reading.clear()


_MEMOS: weakref.WeakSet[LiveMemo[Any, Any]] = weakref.WeakSet()


async def prime_all(marks: OrgMarks) -> None:
    """Every view cache reads again what a change made stale for the organisation (see the module's note)."""
    await asyncio.gather(*(memo.prime(marks) for memo in list(_MEMOS)))
