"""The tiny per-organisation shared state every open tab of that organisation is linked to."""

import reflex as rx


def link_token(org_id: int) -> str:
    """The shared-state token of an organisation (Reflex forbids '_' in it)."""
    return f"org-{org_id}"


class OrgLive(rx.SharedState):
    """Change counters only: tabs re-read what they show when one of these moves."""

    leads_rev: int = 0
    messages_rev: int = 0
    sessions_rev: int = 0
    alerts_rev: int = 0  # security alerts raised or acknowledged, access reviews started/decided/completed
    imports_rev: int = 0  # chat-export import jobs: queued, progressing, finished
