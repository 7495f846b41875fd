"""Builds the Reflex app: pages, HTTP routes, the live bridge and the job runner; nothing else."""

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
from pkcrm_app.ui.pages.account import account_page
from pkcrm_app.ui.pages.alerts import alerts_page
from pkcrm_app.ui.pages.audit import audit_page
from pkcrm_app.ui.pages.board import board_page
from pkcrm_app.ui.pages.chat_import import import_page
from pkcrm_app.ui.pages.login import LoginPageState, login_page
from pkcrm_app.ui.pages.members import members_page
from pkcrm_app.ui.pages.mfa import mfa_setup_page, verify_code_page
from pkcrm_app.ui.pages.onboarding import forgot_page, invite_page, reset_page, signup_confirm_page, signup_page
from pkcrm_app.ui.pages.profile import profile_page
from pkcrm_app.ui.pages.reviews import reviews_page
from pkcrm_app.ui.pages.settings import settings_page
from pkcrm_app.ui.pages.sso import sso_page
from pkcrm_app.ui.pages.whatsapp_settings import whatsapp_settings_page
from pkcrm_app.ui.states.account import AccountState
from pkcrm_app.ui.states.alerts import AlertsState
from pkcrm_app.ui.states.audit import AuditState
from pkcrm_app.ui.states.board import BoardState
from pkcrm_app.ui.states.chat_import import ChatImportState
from pkcrm_app.ui.states.members import MembersState
from pkcrm_app.ui.states.mfa import MfaSetupState, VerifyCodeState
from pkcrm_app.ui.states.onboarding import (
    ForgotPageState,
    InvitePageState,
    ResetPageState,
    SignupConfirmState,
    SignupPageState,
)
from pkcrm_app.ui.states.profile import ProfileState
from pkcrm_app.ui.states.reviews import ReviewsState
from pkcrm_app.ui.states.settings import SettingsState
from pkcrm_app.ui.states.sso import SsoState
from pkcrm_app.ui.states.whatsapp_settings import WhatsAppState

configure_logging(get_settings().log_level)
registry.install()
lock_release.install()  # Reflex 0.10.1 keeps a shared state's lock when a page load is cancelled mid-link
app = rx.App(api_transformer=[build_api(), with_security_headers, refuse_foreign_client_tokens])
app.add_middleware(TabGuard(), index=0)  # before every event: the tab must still be its live session
app.add_page(login_page, route="/login", title="Sign in · PK WhatsApp CRM",
             on_load=LoginPageState.read_outcome)
app.add_page(board_page, route="/board", title="Board · PK WhatsApp CRM", on_load=BoardState.require_login)
app.add_page(board_page, route="/", title="Board · PK WhatsApp CRM", on_load=BoardState.require_login)
app.add_page(audit_page, route="/audit", title="Audit log · PK WhatsApp CRM", on_load=AuditState.open_page)
app.add_page(account_page, route="/account", title="Your sessions · PK WhatsApp CRM",
             on_load=AccountState.open_page)
app.add_page(members_page, route="/members", title="Members · PK WhatsApp CRM", on_load=MembersState.open_page)
app.add_page(verify_code_page, route="/login/verify", title="Two-factor code · PK WhatsApp CRM",
             on_load=VerifyCodeState.open_page)
app.add_page(mfa_setup_page, route="/mfa/setup", title="Set up two-factor · PK WhatsApp CRM",
             on_load=MfaSetupState.open_page)
app.add_page(settings_page, route="/settings", title="Settings · PK WhatsApp CRM", on_load=SettingsState.open_page)
app.add_page(sso_page, route="/settings/sso", title="Single sign-on · PK WhatsApp CRM", on_load=SsoState.open_page)
app.add_page(whatsapp_settings_page, route="/settings/whatsapp", title="WhatsApp · PK WhatsApp CRM",
             on_load=WhatsAppState.open_page)
app.add_page(reviews_page, route="/reviews", title="Access reviews · PK WhatsApp CRM", on_load=ReviewsState.open_page)
app.add_page(alerts_page, route="/alerts", title="Security alerts · PK WhatsApp CRM", on_load=AlertsState.open_page)
app.add_page(signup_page, route="/signup", title="Create an organisation · PK WhatsApp CRM",
             on_load=SignupPageState.read_outcome)
app.add_page(signup_confirm_page, route="/signup/confirm", title="Confirm your organisation · PK WhatsApp CRM",
             on_load=SignupConfirmState.open_page)
app.add_page(forgot_page, route="/forgot", title="Forgot password · PK WhatsApp CRM",
             on_load=ForgotPageState.read_outcome)
app.add_page(reset_page, route="/reset", title="New password · PK WhatsApp CRM", on_load=ResetPageState.open_page)
app.add_page(invite_page, route="/invite", title="Invitation · PK WhatsApp CRM", on_load=InvitePageState.open_page)
app.add_page(profile_page, route="/profile", title="Your profile · PK WhatsApp CRM", on_load=ProfileState.open_page)
app.add_page(import_page, route="/import", title="Import chats · PK WhatsApp CRM",
             on_load=ChatImportState.open_page)
bridge.install(app, cut_off_tab)
app.register_lifespan_task(run_jobs_in_app, kinds=registry.in_app_job_kinds())  # outbox, media, imports, re-seal
