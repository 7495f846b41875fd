"""A fix for Reflex 0.10.1 with Redis: an event cancelled while it takes a state's lock must not keep the lock.

Reflex cancels a tab's events when its socket goes away (a navigation, a closed tab) or a newer navigation
supersedes them. With Redis a lock is a SET NX; cancelled after sending it, the lock was taken but nobody knows:
the tab's next page waits until the lock expires, 10 s later. The SET is let finish, and a lock it took released.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable

from reflex.istate.manager.redis import StateManagerRedis

_PATCHED = "_pkcrm_releases_locks_on_cancel"


def install() -> None:
    """Wrap the lock step once (idempotent)."""
    original: Callable[..., Awaitable[bool | None]] = StateManagerRedis._try_get_lock
    if getattr(original, _PATCHED, False):
        return

    @functools.wraps(original)
    async def try_get_lock(self: StateManagerRedis, lock_key: bytes, lock_id: bytes) -> bool | None:
        setting = asyncio.ensure_future(original(self, lock_key, lock_id))
        try:
            return await asyncio.shield(setting)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                if await setting and await self.redis.get(lock_key) == lock_id:
                    await self.redis.delete(lock_key)  # ours, and the event that wanted it is gone
            raise

    setattr(try_get_lock, _PATCHED, True)
    StateManagerRedis._try_get_lock = try_get_lock  # type: ignore[method-assign]
