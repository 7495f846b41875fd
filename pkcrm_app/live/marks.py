"""Which ids a change counter moved for: the last few, each with the counter value it moved at.

Plain values (no Reflex) so the bridge writes them and tabs read them the same way on every worker. Past the
last RECENT ids, changes are no longer told apart: the floor says up to which counter value that is so.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

RECENT = 20  # ids remembered per counter

Recent = list[tuple[int, int]]  # (id, counter value it last changed at), newest first


def note(recent: Sequence[tuple[int, int]], floor: int, ids: Collection[int] | None, rev: int) -> tuple[Recent, int]:
    """The marks after the counter moved to `rev` for `ids` (None: for ids nobody named)."""
    if ids is None:
        return [], rev
    fresh = [(item, rev) for item in sorted(ids)]
    kept = [(item, at) for item, at in recent if item not in ids and at > floor]
    merged = fresh + kept
    dropped = merged[RECENT:]
    return merged[:RECENT], max([floor, *(at for _, at in dropped)])


def changed_since(recent: Sequence[tuple[int, int]], floor: int, current: int, rev: int,
                  ids: Collection[int] | None) -> bool:
    """Whether a view read when the counter stood at `rev` may be out of date for `ids` (None: any change)."""
    if current == rev:
        return False
    if current < rev or ids is None or floor > rev:  # a counter that went back was reset: trust nothing
        return True
    return any(at > rev for item, at in recent if item in ids)
