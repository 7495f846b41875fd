"""Reflex configuration; database and Redis come from the app's own settings."""

import reflex as rx

from pkcrm_app.settings import get_settings

settings = get_settings()

config = rx.Config(
    app_name="pkcrm_app",
    redis_url=settings.redis_url or None,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="green", radius="medium"))],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
