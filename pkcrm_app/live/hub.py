"""This worker's side of the live channel: the tabs it serves for each organisation, and each organisation's
change marks (counters, and the ids they last moved for) as its events reached this worker.

A tab joins when one of its pages signs in (the organisation comes from the server-side session, never from the
client) and leaves when it is cut off, signed in elsewhere, or its socket is no longer on this worker.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from pkcrm_app.live import marks
from pkcrm_app.live.state import COUNTER_NAMES, Counter

Changes = dict[Counter, set[int] | None]  # counter -> the ids it moves for (None: ids nobody named)


@dataclass
class OrgMarks:
    """An organisation's counters and, for each, the last few ids it moved for."""

    revs: dict[Counter, int] = field(default_factory=lambda: dict.fromkeys(COUNTER_NAMES, 0))
    recent: dict[Counter, marks.Recent] = field(default_factory=dict)
    floor: dict[Counter, int] = field(default_factory=dict)

    def record(self, changes: Mapping[Counter, Collection[int] | None]) -> dict[Counter, int]:
        """Move each counter once, remembering the ids it moved for (None: ids nobody named); the new values."""
        for counter, ids in changes.items():
            rev = self.revs[counter] + 1
            self.revs[counter] = rev
            self.recent[counter], self.floor[counter] = marks.note(self.recent.get(counter, []),
                                                                   self.floor.get(counter, 0), ids, rev)
        return {counter: self.revs[counter] for counter in changes}

    def changed_since(self, counter: Counter, rev: int, ids: Collection[int] | None) -> bool:
        """Whether a view read when `counter` stood at `rev` may be out of date for `ids` (None: any change)."""
        return marks.changed_since(self.recent.get(counter, []), self.floor.get(counter, 0), self.revs[counter],
                                   rev, ids)


_marks: dict[int, OrgMarks] = {}
_tabs: dict[int, set[str]] = {}
_org_of_tab: dict[str, int] = {}


def marks_of(org_id: int) -> OrgMarks:
    found = _marks.get(org_id)
    if found is None:
        found = _marks[org_id] = OrgMarks()
    return found


def join(client_token: str, org_id: int) -> None:
    """The tab is served here for this organisation (and no other)."""
    if _org_of_tab.get(client_token) == org_id:
        return
    leave(client_token)
    _org_of_tab[client_token] = org_id
    _tabs.setdefault(org_id, set()).add(client_token)


def leave(client_token: str, *, only_from: int | None = None) -> None:
    """The tab is no longer served here (with `only_from`: unless it has joined another organisation since)."""
    if only_from is not None and _org_of_tab.get(client_token) != only_from:
        return
    org_id = _org_of_tab.pop(client_token, None)
    if org_id is not None:
        _tabs.get(org_id, set()).discard(client_token)


def tabs_of(org_id: int) -> list[str]:
    return list(_tabs.get(org_id, ()))


def tab_count() -> int:
    return len(_org_of_tab)


def forget_all() -> None:
    """For tests: a worker that starts afresh."""
    _marks.clear()
    _tabs.clear()
    _org_of_tab.clear()
