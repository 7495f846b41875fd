"""Thin states of the signed-out pages: sign-up and its confirmation, forgot password, reset and invitation.

Tokens never enter these states: the link pages read the HttpOnly link cookie from the request headers
on the server and keep only what the page shows (organisation, role, email)."""

from __future__ import annotations

import asyncio
from http.cookies import SimpleCookie

import reflex as rx

from pkcrm_app.accounts import invitations, recovery, signup
from pkcrm_app.core.db import get_database
from pkcrm_app.core.errors import DomainError
from pkcrm_app.routes.onboarding import INVITE_COOKIE, RESET_COOKIE, SIGNUP_COOKIE


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


def _pending_signup(token: str | None) -> signup.PendingSignUp | None:
    with get_database().session() as db:
        try:
            return signup.describe(db, token)
        except DomainError:
            return None


def _reset_ok(token: str | None) -> bool:
    with get_database().session() as db:
        return recovery.reset_link_is_valid(db, token)


class SignupPageState(rx.State):
    error: str = ""
    sent: bool = False

    @rx.event
    def read_outcome(self) -> None:
        query = self.router.url.query_parameters
        self.error, self.sent = query.get("error", ""), query.get("sent", "") == "1"


class SignupConfirmState(rx.State):
    error: str = ""
    link_ok: bool = False
    org_name: str = ""
    email: str = ""

    @rx.event
    async def open_page(self) -> None:
        self.error = self.router.url.query_parameters.get("error", "")
        pending = await asyncio.to_thread(_pending_signup, _cookie(self.router.headers.cookie, SIGNUP_COOKIE))
        self.link_ok = pending is not None
        self.org_name, self.email = (pending.org_name, pending.email) if pending else ("", "")


class ForgotPageState(rx.State):
    sent: bool = False

    @rx.event
    def read_outcome(self) -> None:
        self.sent = self.router.url.query_parameters.get("sent", "") == "1"


class ResetPageState(rx.State):
    error: str = ""
    link_ok: bool = True

    @rx.event
    async def open_page(self) -> None:
        self.error = self.router.url.query_parameters.get("error", "")
        self.link_ok = await asyncio.to_thread(_reset_ok, _cookie(self.router.headers.cookie, RESET_COOKIE))


class InvitePageState(rx.State):
    error: str = ""
    link_ok: bool = False
    org_name: str = ""
    role: str = ""
    email: str = ""
    existing_account: bool = False

    @rx.event
    async def open_page(self) -> None:
        self.error = self.router.url.query_parameters.get("error", "")
        view = await asyncio.to_thread(_describe, _cookie(self.router.headers.cookie, INVITE_COOKIE))
        self.link_ok = view is not None
        if view is not None:
            self.org_name, self.role, self.email = view.org_name, view.role.value, view.email
            self.existing_account = view.existing_account
        else:
            self.org_name = self.role = self.email = ""
            self.existing_account = False
