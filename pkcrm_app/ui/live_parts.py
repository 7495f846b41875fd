"""Page parts a live push re-sends only when what they show changed, computed once per view, not once per tab.

A page state that shows live data (the board) splits it into parts (its column headers, each column's cards, the
open thread), each a cached computed var recomputed only for its own reasons (its page, its filters) or when the
push says so. A push reads the page's views through the worker's view cache, where each part carries a key: a
digest of its content, made once per view and change. The tab remembers the key of each part it was last sent
and gets again only the parts whose key moved: a new message costs every tab the column it changed, and its
headers when a count moved, and nothing more, whichever page the change came from.

Why digests rather than Reflex's own comparison of uncached vars: that one serialises every uncached var of a tab
on every delta of that tab to compare it with what the tab has; at a hundred tabs that was most of a push.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from typing import Any, ClassVar

import reflex as rx
from reflex.state import BaseState

from pkcrm_app.live.state import COUNTER_NAMES, Counter, LiveTab, mark_moved


def part_key(value: object) -> str:
    """A short digest of what a part shows (its dataclasses' repr: every field, in order)."""
    return hashlib.blake2b(repr(value).encode(), digest_size=8).hexdigest()


def resend(state: BaseState, var_names: Iterable[str]) -> None:
    """Recompute these cached vars of the state and send them with the tab's next delta.

    Reflex 0.10.1 has no public call for "this cached var is stale": this does what its own dependency tracking
    does when a var it depends on is set (drop the cached value, mark the var and the state's ancestors dirty)."""
    names = set(var_names)
    if not names:
        return
    for name in names:
        state.computed_vars[name].mark_dirty(instance=state)
    state.dirty_vars.update(names)
    state._mark_ancestors_dirty()


Sent = tuple[tuple[str, str], ...]  # (part, key) of each part a tab was sent again


class LiveParts(rx.State, mixin=True):
    """A page state whose parts follow live pushes while one of `LIVE_PATHS` is the tab's page."""

    LIVE_PATHS: ClassVar[frozenset[str]] = frozenset()
    # Parts that other vars of the tab follow (so what the tab is sent with them is its own, not the view's).
    PRIVATE_PARTS: ClassVar[frozenset[str]] = frozenset()
    _sent_keys: dict[str, str] = {}  # noqa: RUF012 (Reflex state field) part -> key of what the tab last got

    def __getstate__(self) -> dict[str, Any]:
        """What a state manager stores of the tab (Redis): its fields, not its parts' values, which come back from
        the worker's view cache when next needed (a hundred tabs' copies of a board would be pickled on every
        push otherwise)."""
        fields: dict[str, Any] = super().__getstate__()  # type: ignore[no-untyped-call]
        return {name: value for name, value in fields.items() if not name.startswith("__cached_")}

    async def _part_keys(self) -> dict[str, str]:
        """The key of each part as the tab's views stand now (through the view cache)."""
        raise NotImplementedError

    async def _live_refresh(self, *, everything: bool = False) -> Sent:
        """Send the parts whose content moved since the tab last got them (all of them with `everything`)."""
        keys = await self._part_keys()
        sent: dict[str, str] = self.get_value("_sent_keys")  # the dict itself: reading through a proxy costs more
        moved = tuple((name, key) for name, key in keys.items() if everything or sent.get(name) != key)
        if moved:
            self._sent_keys = keys
            resend(self, (name for name, _ in moved))
        return moved


@functools.cache
def live_part_states() -> tuple[type[LiveParts], ...]:
    """Every page state with live parts (the state tree is fixed once the app is built; the substates of one, such
    as the reply box under the board, follow it through their own vars)."""
    found: list[type[LiveParts]] = []
    pending = list(rx.State.get_substates())
    while pending:
        cls = pending.pop()
        if issubclass(cls, LiveParts):
            found.append(cls)
        else:
            pending.extend(cls.get_substates())
    return tuple(found)


def page_path(root: Any) -> str:
    """The page the tab showed at its last event (hydrate, on_load, click).

    Read from the router's URL field: `root.router` assembles the whole RouterData (headers, session, page) on
    every read, a tenth of a push per tab."""
    path = str(root.rx_router_url.href.path or "/")
    return path if path == "/" else path.rstrip("/")


async def refresh_tab(root: Any, moved: Iterable[Counter] = COUNTER_NAMES, *,
                      everything: bool = False) -> tuple[tuple[str, Sent], ...] | None:
    """What a push (or a tab's return) does to one tab: move its counters that page vars read (those vars follow;
    a counter nobody reads is not moved, so the tab is neither sent nor stored for it), and bring the live parts
    of the page it shows up to date.

    Returns what the tab is sent, the same for every tab sent the same (its parts, by content), or None when what
    it is sent is its own (counters its vars read, a part other vars of the tab follow)."""
    watched = [counter for counter in moved if counter in LiveTab._var_dependencies]  # read by some page var
    if watched:
        mark_moved(await root.get_state(LiveTab), watched)
    path = page_path(root)
    sent: list[tuple[str, Sent]] = []
    own = bool(watched)
    for cls in live_part_states():
        if path in cls.LIVE_PATHS:
            parts = await (await root.get_state(cls))._live_refresh(everything=everything)
            own = own or any(name in cls.PRIVATE_PARTS for name, _ in parts)
            sent.append((cls.get_full_name(), parts))
    return None if own else tuple(sent)
