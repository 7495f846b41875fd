"""Every page of the app in one table: `pkcrm_app.py` adds each of them, and the navigation bar of the signed-in
pages links to those that name a label, showing a link only to roles with its permission."""

from __future__ import annotations

from dataclasses import dataclass

from reflex.app import ComponentCallable
from reflex.event import EventType

from pkcrm_app.core.authz import Permission
from pkcrm_app.ui.components.layout import Nav
from pkcrm_app.ui.pages.account.page import account_page
from pkcrm_app.ui.pages.account.state import AccountState
from pkcrm_app.ui.pages.alerts.page import alerts_page
from pkcrm_app.ui.pages.alerts.state import AlertsState
from pkcrm_app.ui.pages.audit.page import audit_page
from pkcrm_app.ui.pages.audit.state import AuditState
from pkcrm_app.ui.pages.board.page import board_page
from pkcrm_app.ui.pages.board.state import BoardState
from pkcrm_app.ui.pages.chat_import.page import import_page
from pkcrm_app.ui.pages.chat_import.state import ChatImportState
from pkcrm_app.ui.pages.login.page import login_page
from pkcrm_app.ui.pages.login.state import LoginPageState
from pkcrm_app.ui.pages.members.page import members_page
from pkcrm_app.ui.pages.members.state import MembersState
from pkcrm_app.ui.pages.mfa.page import mfa_setup_page, verify_code_page
from pkcrm_app.ui.pages.mfa.state import MfaSetupState, VerifyCodeState
from pkcrm_app.ui.pages.onboarding.page import forgot_page, invite_page, reset_page, signup_confirm_page, signup_page
from pkcrm_app.ui.pages.onboarding.state import (
    ForgotPageState,
    InvitePageState,
    ResetPageState,
    SignupConfirmState,
    SignupPageState,
)
from pkcrm_app.ui.pages.profile.page import profile_page
from pkcrm_app.ui.pages.profile.state import ProfileState
from pkcrm_app.ui.pages.reviews.page import reviews_page
from pkcrm_app.ui.pages.reviews.state import ReviewsState
from pkcrm_app.ui.pages.settings.page import settings_page
from pkcrm_app.ui.pages.settings.state import SettingsState
from pkcrm_app.ui.pages.sso.page import sso_page
from pkcrm_app.ui.pages.sso.state import SsoState
from pkcrm_app.ui.pages.whatsapp_settings.page import whatsapp_settings_page
from pkcrm_app.ui.pages.whatsapp_settings.state import WhatsAppState

APP_NAME = "PK WhatsApp CRM"


@dataclass(frozen=True)
class Route:
    path: str
    title: str  # the page's own part of the browser tab's title
    component: ComponentCallable
    on_load: EventType[()] | None = None
    permission: Permission | None = None  # needed to see its link (the page itself checks again on load)
    nav_label: str | None = None  # None: no link in the navigation bar
    nav: Nav = Nav.MAIN

    @property
    def page_title(self) -> str:
        return f"{self.title} · {APP_NAME}"

    @property
    def nav_id(self) -> str:
        """The link's element id: 'nav-' and the path ('/settings/sso' -> 'nav-settings-sso')."""
        return "nav-" + self.path.strip("/").replace("/", "-")


ROUTES: tuple[Route, ...] = (
    # Signed-out pages.
    Route("/login", "Sign in", login_page, LoginPageState.read_outcome),
    Route("/login/verify", "Two-factor code", verify_code_page, VerifyCodeState.open_page),
    Route("/mfa/setup", "Set up two-factor", mfa_setup_page, MfaSetupState.open_page),
    Route("/signup", "Create an organisation", signup_page, SignupPageState.read_outcome),
    Route("/signup/confirm", "Confirm your organisation", signup_confirm_page, SignupConfirmState.open_page),
    Route("/forgot", "Forgot password", forgot_page, ForgotPageState.read_outcome),
    Route("/reset", "New password", reset_page, ResetPageState.open_page),
    Route("/invite", "Invitation", invite_page, InvitePageState.open_page),
    # Signed-in pages, main navigation in this order.
    Route("/board", "Board", board_page, BoardState.open_board, nav_label="Board"),
    Route("/", "Board", board_page, BoardState.open_board),
    # Every role views conversations, so every role sees the link (the page asks for CONVERSATION_VIEW).
    Route("/import", "Import chats", import_page, ChatImportState.open_page, nav_label="Import chats"),
    Route("/members", "Members", members_page, MembersState.open_page, Permission.MEMBERS_MANAGE, "Members"),
    Route("/audit", "Audit log", audit_page, AuditState.open_page, Permission.AUDIT_VIEW, "Audit log"),
    Route("/settings", "Settings", settings_page, SettingsState.open_page, Permission.SETTINGS_MANAGE, "Settings"),
    Route("/settings/sso", "Single sign-on", sso_page, SsoState.open_page),
    Route("/settings/whatsapp", "WhatsApp", whatsapp_settings_page, WhatsAppState.open_page),
    Route("/reviews", "Access reviews", reviews_page, ReviewsState.open_page, Permission.MEMBERS_MANAGE, "Reviews",
          Nav.ADMIN),
    Route("/alerts", "Security alerts", alerts_page, AlertsState.open_page),  # the bell (components/security.py)
    Route("/account", "Your sessions", account_page, AccountState.open_page),  # the person's name links here
    Route("/profile", "Your profile", profile_page, ProfileState.open_page, nav_label="Profile", nav=Nav.SELF),
)


def navigation(place: Nav) -> list[Route]:
    """The pages linked from `place` of the top bar, in the table's order."""
    return [route for route in ROUTES if route.nav_label and route.nav is place]
