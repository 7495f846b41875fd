"""Builds the Reflex app: pages, HTTP routes and the live bridge; nothing else."""

import reflex as rx

from pkcrm_app.live import bridge
from pkcrm_app.routes import build_api
from pkcrm_app.ui.pages.account import account_page
from pkcrm_app.ui.pages.audit import audit_page
from pkcrm_app.ui.pages.board import board_page
from pkcrm_app.ui.pages.login import LoginPageState, login_page
from pkcrm_app.ui.pages.members import members_page
from pkcrm_app.ui.states.account import AccountState
from pkcrm_app.ui.states.audit import AuditState
from pkcrm_app.ui.states.board import BoardState
from pkcrm_app.ui.states.members import MembersState

app = rx.App(api_transformer=build_api())
app.add_page(login_page, route="/login", title="Sign in · PK WhatsApp CRM",
             on_load=LoginPageState.read_outcome)
app.add_page(board_page, route="/board", title="Board · PK WhatsApp CRM", on_load=BoardState.require_login)
app.add_page(board_page, route="/", title="Board · PK WhatsApp CRM", on_load=BoardState.require_login)
app.add_page(audit_page, route="/audit", title="Audit log · PK WhatsApp CRM", on_load=AuditState.open_page)
app.add_page(account_page, route="/account", title="Your sessions · PK WhatsApp CRM",
             on_load=AccountState.open_page)
app.add_page(members_page, route="/members", title="Members · PK WhatsApp CRM", on_load=MembersState.open_page)
bridge.install(app)
