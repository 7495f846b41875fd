"""Reflex configuration; database, Redis, origins and proxies come from the app's own settings."""

import os

import reflex as rx

from pkcrm_app.settings import get_settings

settings = get_settings()
if settings.redis_url:
    # A tab's events and live pushes all run on the worker that holds its socket, so that worker keeps the tab's
    # state for a few seconds after each change instead of reading and storing it through Redis every time
    # (Reflex's opportunistic lock; a worker that needs the tab meanwhile breaks the lease). Measured at 100 tabs
    # with two workers: CPU per webhook 0.30 -> 0.19 s, p50 180 -> 127 ms; held 8 s rather than 3, 0.19 -> 0.11 s
    # (a hot tab was read, unpickled, pickled and stored again every 3 s) (benchmarks/live_fanout.py).
    os.environ.setdefault("REFLEX_OPLOCK_ENABLED", "true")
    os.environ.setdefault("REFLEX_OPLOCK_HOLD_TIME_MS", "8000")

config = rx.Config(
    app_name="pkcrm_app",
    redis_url=settings.redis_url or None,
    # Set explicitly: Reflex's default ("disk") pickles every tab's state, cookies included, under .states/.
    state_manager_mode=settings.state_manager_mode,
    # The websocket reads the client's address the same way the HTTP routes do.
    trusted_proxy_hops=settings.trusted_proxy_count,
    # Only the public URL's origin may call the routes with credentials or open the /_event websocket
    # (Reflex's default is any origin: a sibling subdomain or another port could read the board).
    cors_allowed_origins=list(settings.allowed_origins),
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="green", radius="medium"))],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
