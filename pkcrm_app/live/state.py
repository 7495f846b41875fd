"""The tiny per-organisation shared state every open tab of that organisation is linked to."""

import hashlib
import hmac

import reflex as rx

from pkcrm_app.core.db import get_database


def link_token(org_id: int) -> str:
    """The organisation's shared-state token: an HMAC of its id under a server secret, so nobody can guess it
    and connect as it (Reflex forbids '_' in it; hex has none)."""
    key = get_database().keyring.master.derive("live-channel")
    return "org-" + hmac.new(key, str(org_id).encode(), hashlib.sha256).hexdigest()[:40]


class OrgLive(rx.SharedState):
    """Change counters only: tabs re-read what they show when one of these moves."""

    leads_rev: int = 0
    messages_rev: int = 0
    alerts_rev: int = 0  # security alerts raised or acknowledged, access reviews started/decided/completed
    imports_rev: int = 0  # chat-export import jobs: queued, progressing, finished
