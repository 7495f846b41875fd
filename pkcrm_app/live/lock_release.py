"""A fix for Reflex 0.10.1: an event cancelled while it links a tab to its organisation's shared state must not
keep the organisation's lock.

Reflex cancels a tab's page-load chain when its socket goes away (a navigation, a closed tab) or when a newer
navigation supersedes it. Before an event runs, Reflex locks every shared state the tab is linked to and pushes
those locks on an exit stack, and only then enters the stack; a cancellation in between leaves the stack
unclosed, so the organisation's lock is never released and every tab of the organisation (the next page of the
same tab first) waits forever. Closing the stack when linking fails releases what was taken; when linking
fails inside a running event, the stack's own exit finds nothing left to close, so the outcome is unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from reflex.istate.shared import SharedStateBaseInternal

_PATCHED = "_pkcrm_releases_locks_on_failure"


def install() -> None:
    """Wrap Reflex's linking step once (idempotent)."""
    original: Callable[..., Awaitable[Any]] = SharedStateBaseInternal._internal_patch_linked_state
    if getattr(original, _PATCHED, False):
        return

    @functools.wraps(original)
    async def patch_linked_state(self: SharedStateBaseInternal, token: str, full_delta: bool = False) -> Any:
        stack = self._linked_locks_holder()._exit_stack
        try:
            return await original(self, token, full_delta)
        except BaseException:
            if stack is not None:
                await stack.aclose()  # releases the shared states' locks this event took so far
            raise

    setattr(patch_linked_state, _PATCHED, True)
    SharedStateBaseInternal._internal_patch_linked_state = patch_linked_state  # type: ignore[method-assign]
