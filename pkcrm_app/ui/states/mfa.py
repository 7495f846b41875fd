"""States of the second-factor pages: the code step of a login and enrolment. They only learn where the
login stands; codes, secrets and recovery codes go over HTTP routes, never through this state."""

from __future__ import annotations

import asyncio

import reflex as rx

from pkcrm_app.accounts import mfa, mfa_login
from pkcrm_app.accounts.second_factor import MfaState
from pkcrm_app.core.db import get_database
from pkcrm_app.ui.states.session import cookie_token


def _cookie(state: rx.State) -> str | None:
    return cookie_token(state.router.headers.cookie)


def _waiting_for(token: str | None) -> MfaState | None:
    with get_database().session() as db:
        return mfa_login.waiting_for(db, token)


def _enrolment_status(token: str | None) -> tuple[bool, bool, bool]:
    """(may enrol, enrolment is required to finish a login, already enrolled)."""
    with get_database().session() as db:
        who = mfa_login.enroller(db, token)
        if who is None:
            return False, False, False
        return True, who.waiting, mfa.has_confirmed_factor(db, who.user.id)


class VerifyCodeState(rx.State):
    error: str = ""

    @rx.event
    async def open_page(self):  # type: ignore[no-untyped-def]
        """on_load: only a login waiting for its code belongs here."""
        waiting = await asyncio.to_thread(_waiting_for, _cookie(self))
        if waiting is None:
            return rx.redirect("/login")
        if waiting == MfaState.ENROL:
            return rx.redirect("/mfa/setup")
        self.error = ("That code is not right. Check your authenticator app and try again."
                      if self.router.url.query_parameters.get("error") else "")
        return None


class MfaSetupState(rx.State):
    required: bool = False  # the organisation's policy: the login finishes only after enrolment
    qr_version: int = 0  # bumps the QR image address, so "new code" fetches a fresh secret

    @rx.event
    async def open_page(self):  # type: ignore[no-untyped-def]
        allowed, required, enrolled = await asyncio.to_thread(_enrolment_status, _cookie(self))
        if not allowed:
            return rx.redirect("/login")
        if enrolled:
            return rx.redirect("/account")
        self.required = required
        self.qr_version += 1
        return None

    @rx.var
    def qr_url(self) -> str:
        return f"/auth/mfa/qr.svg?v={self.qr_version}"
