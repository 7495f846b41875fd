"""Builds the Reflex app: the route table's pages (ui/routes.py), HTTP routes and the live bridge; nothing else."""

import reflex as rx

from pkcrm_app.core.logging import configure_logging
from pkcrm_app.flows import registry
from pkcrm_app.inbox.outbox import task as sender_task
from pkcrm_app.live import bridge
from pkcrm_app.routes import build_api
from pkcrm_app.routes.chat_import import resume_imports
from pkcrm_app.routes.client_tokens import refuse_foreign_client_tokens
from pkcrm_app.routes.security_headers import with_security_headers
from pkcrm_app.settings import get_settings
from pkcrm_app.ui.guard import TabGuard, cut_off_tab
from pkcrm_app.ui.routes import ROUTES

configure_logging(get_settings().log_level)
registry.install()
app = rx.App(api_transformer=[build_api(), with_security_headers, refuse_foreign_client_tokens])
app.add_middleware(TabGuard(), index=0)  # before every event: the tab must still be its live session
for route in ROUTES:
    app.add_page(route.component, route=route.path, title=route.page_title, on_load=route.on_load)
app.register_lifespan_task(resume_imports)
bridge.install(app, cut_off_tab)
app.register_lifespan_task(sender_task.run_in_app)  # the WhatsApp outbox sender
app.register_lifespan_task(sender_task.retry_media_in_app)  # inbound media downloads left pending
