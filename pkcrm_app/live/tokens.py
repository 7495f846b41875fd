"""The client tokens a browser tab may connect with: only the v4 UUIDs Reflex's frontend generates.

A client token is chosen by the browser and is no credential; refusing every other form keeps a socket
from connecting under an organisation's shared-state token (which starts with "org-")."""

from __future__ import annotations

import re

# The frontend sets the variant nibble to 8-f (not only RFC 4122's 8-b): accept what it generates.
_V4_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89a-f][0-9a-f]{3}-[0-9a-f]{12}")


def is_client_token(token: str | None) -> bool:
    """Whether `token` has the form of a tab's own client token (a lowercase v4 UUID)."""
    return bool(token) and _V4_UUID.fullmatch(token or "") is not None
