"""Thin states of the signed-out pages: sign-up and its confirmation, forgot password, reset and invitation.

Tokens never enter these states: the link pages read the HttpOnly link cookie (and the asking browser's mark)
from the request headers on the server and keep only what the page shows (organisation, role, email, and
whether the person must first confirm that the account is theirs). Errors arrive as short codes in the
address and are shown as the fixed message of their code (accounts/outcomes.py), never as the address's text."""

from __future__ import annotations

import asyncio
from http.cookies import SimpleCookie

import reflex as rx

from pkcrm_app.accounts.identity import outcomes, recovery
from pkcrm_app.accounts.identity.cookies import BROWSER_COOKIE, INVITE_COOKIE, RESET_COOKIE, SIGNUP_COOKIE
from pkcrm_app.accounts.organisations import invitations, signup
from pkcrm_app.core.db import get_database
from pkcrm_app.core.errors import DomainError


def _cookie(header: str, name: str) -> str | None:
    cookies: SimpleCookie = SimpleCookie()
    cookies.load(header or "")
    morsel = cookies.get(name)
    return morsel.value if morsel else None


def _describe(token: str | None) -> invitations.InvitationView | None:
    with get_database().session() as db:
        try:
            return invitations.describe(db, token)
        except DomainError:
            return None


def _pending_signup(token: str | None, browser: str | None = None) -> signup.PendingSignUp | None:
    with get_database().session() as db:
        try:
            return signup.describe(db, token, browser)
        except DomainError:
            return None


def _reset_view(token: str | None, browser: str | None = None) -> recovery.ResetView | None:
    with get_database().session() as db:
        return recovery.describe_reset(db, token, browser)


class LinkPageState(rx.State, mixin=True):
    """A page an emailed link leads to: away from the browser that asked for the link, the person first confirms
    that the account shown is theirs (`confirm_account`), and the form then carries that email."""

    error: str = ""
    link_ok: bool = False
    email: str = ""
    must_confirm: bool = True
    account_confirmed: bool = False

    def _error_from_address(self) -> None:
        self.error = outcomes.message_for(self.router.url.query_parameters.get("error", ""))
        self.account_confirmed = False

    def _link_cookies(self, link_cookie: str) -> tuple[str | None, str | None]:
        header = self.router.headers.cookie
        return _cookie(header, link_cookie), _cookie(header, BROWSER_COOKIE)

    @rx.event
    def confirm_account(self) -> None:
        self.account_confirmed = True

    @rx.var
    def confirmed_email(self) -> str:
        """What the form posts as the confirmed account ('' until the person confirmed it)."""
        return self.email if self.account_confirmed else ""


class SignupPageState(rx.State):
    error: str = ""
    sent: bool = False

    @rx.event
    def read_outcome(self) -> None:
        query = self.router.url.query_parameters
        self.error, self.sent = outcomes.message_for(query.get("error", "")), query.get("sent", "") == "1"


class SignupConfirmState(LinkPageState, rx.State):
    org_name: str = ""

    @rx.event
    async def open_page(self) -> None:
        self._error_from_address()
        pending = await asyncio.to_thread(_pending_signup, *self._link_cookies(SIGNUP_COOKIE))
        self.link_ok = pending is not None
        self.org_name, self.email = (pending.org_name, pending.email) if pending else ("", "")
        self.must_confirm = pending is None or not pending.same_browser


class ForgotPageState(rx.State):
    sent: bool = False

    @rx.event
    def read_outcome(self) -> None:
        self.sent = self.router.url.query_parameters.get("sent", "") == "1"


class ResetPageState(LinkPageState, rx.State):
    @rx.event
    async def open_page(self) -> None:
        self._error_from_address()
        view = await asyncio.to_thread(_reset_view, *self._link_cookies(RESET_COOKIE))
        self.link_ok = view is not None
        self.email = view.email if view else ""
        self.must_confirm = view is None or not view.same_browser


class InvitePageState(LinkPageState, rx.State):
    org_name: str = ""
    role: str = ""
    existing_account: bool = False

    @rx.event
    async def open_page(self) -> None:
        self._error_from_address()
        self.must_confirm = True  # an admin asked for the link, not this browser
        view = await asyncio.to_thread(_describe, _cookie(self.router.headers.cookie, INVITE_COOKIE))
        self.link_ok = view is not None
        if view is not None:
            self.org_name, self.role, self.email = view.org_name, view.role.value, view.email
            self.existing_account = view.existing_account
        else:
            self.org_name = self.role = self.email = ""
            self.existing_account = False
