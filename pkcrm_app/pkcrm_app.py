"""Builds the Reflex app: the route table's pages (ui/routes.py), HTTP routes, the live bridge and the job
runner; nothing else."""

import reflex as rx

from pkcrm_app.core.logging import configure_logging
from pkcrm_app.flows import registry
from pkcrm_app.http import build_api
from pkcrm_app.http.client_tokens import refuse_foreign_client_tokens
from pkcrm_app.http.security_headers import with_security_headers
from pkcrm_app.jobs.runner import run_in_app as run_jobs_in_app
from pkcrm_app.live import bridge, lock_release
from pkcrm_app.settings import get_settings
from pkcrm_app.ui.guard import TabGuard, cut_off_tab
from pkcrm_app.ui.live_parts import refresh_tab
from pkcrm_app.ui.routes import ROUTES

configure_logging(get_settings().log_level)
registry.install()
lock_release.install()  # Reflex 0.10.1 with Redis keeps a lock taken by a cancelled event until it expires
app = rx.App(api_transformer=[build_api(), with_security_headers, refuse_foreign_client_tokens])
app.add_middleware(TabGuard(), index=0)  # before every event: the tab must still be its live session
for route in ROUTES:
    app.add_page(route.component, route=route.path, title=route.page_title, on_load=route.on_load)
bridge.install(app, cut_off_tab, refresh_tab)
app.register_lifespan_task(run_jobs_in_app, kinds=registry.in_app_job_kinds())  # outbox, media, imports, re-seal
