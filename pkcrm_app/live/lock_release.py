"""Fixes for Reflex 0.10.1: an event cancelled while it takes a state's lock, or while it links a tab to its
organisation's shared state, must not keep the lock.

Reflex cancels a tab's page-load chain when its socket goes away (a navigation, a closed tab) or when a newer
navigation supersedes it. Before an event runs, Reflex locks every shared state the tab is linked to and pushes
those locks on an exit stack, and only then enters the stack; a cancellation in between leaves the stack
unclosed, so the organisation's lock is never released and every tab of the organisation (the next page of the
same tab first) waits forever (with Redis, until the lock expires). The linking is shielded from cancellation
and the stack closed when it fails or is cancelled, which releases what was taken; when linking fails inside a
running event, the stack's own exit finds nothing left to close, so the outcome is unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from reflex.istate.manager.redis import StateManagerRedis
from reflex.istate.shared import SharedStateBaseInternal

_PATCHED = "_pkcrm_releases_locks_on_failure"


def install() -> None:
    """Both fixes, once (idempotent)."""
    _release_links_on_failure()
    _take_redis_locks_cancel_safely()


def _take_redis_locks_cancel_safely() -> None:
    """With Redis a lock is a SET NX; cancelled after sending it, the lock was taken but nobody knows: it blocks the
    tab (or the organisation) until it expires, 10 s later. The SET is let finish, and a lock it took released."""
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


def _release_links_on_failure() -> None:
    """Wrap Reflex's linking step."""
    original: Callable[..., Awaitable[Any]] = SharedStateBaseInternal._internal_patch_linked_state
    if getattr(original, _PATCHED, False):
        return

    @functools.wraps(original)
    async def patch_linked_state(self: SharedStateBaseInternal, token: str, full_delta: bool = False) -> Any:
        stack = self._linked_locks_holder()._exit_stack
        linking = asyncio.ensure_future(original(self, token, full_delta))
        try:
            return await asyncio.shield(linking)
        except asyncio.CancelledError:
            # Taking a lock is not cancel-safe with Redis (a lock set but its answer never read stays taken until it
            # expires): let the linking finish, so whatever it took is on the stack, then release it all.
            with contextlib.suppress(Exception):
                await linking
            if stack is not None:
                await stack.aclose()
            raise
        except BaseException:
            if stack is not None:
                await stack.aclose()  # releases the shared states' locks this event took so far
            raise

    setattr(patch_linked_state, _PATCHED, True)
    SharedStateBaseInternal._internal_patch_linked_state = patch_linked_state  # type: ignore[method-assign]
