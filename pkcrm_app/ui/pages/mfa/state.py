"""States of the second-factor pages: the code step of a login and enrolment. They only learn where the
login stands; codes, secrets and recovery codes go over HTTP routes, never through this state."""

from __future__ import annotations

import asyncio
from http.cookies import SimpleCookie

import reflex as rx

from pkcrm_app.accounts.identity import mfa, mfa_login, mfa_reset
from pkcrm_app.accounts.identity.cookies import MFA_RESET_COOKIE
from pkcrm_app.accounts.identity.second_factor import MfaState
from pkcrm_app.core.db import get_database
from pkcrm_app.ui.session import cookie_token

RESET_ERRORS = {"link": mfa_reset.INVALID_LINK, "browser": mfa_reset.SAME_BROWSER}


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


def _reset_token(state: rx.State) -> str | None:
    """The emailed second-factor reset link's token, kept in its HttpOnly cookie by the link's first hop."""
    cookies = SimpleCookie()
    cookies.load(state.router.headers.cookie or "")
    morsel = cookies.get(MFA_RESET_COOKIE)
    return morsel.value if morsel else None


def _reset_link_valid(token: str) -> bool:
    with get_database().session() as db:
        return mfa_reset.link_is_valid(db, token)


class VerifyCodeState(rx.State):
    error: str = ""
    notice: str = ""
    confirm_reset: bool = False  # an emailed link to reset the factor waits for the person's confirmation

    @rx.event
    async def open_page(self):  # type: ignore[no-untyped-def]
        """on_load: only a login waiting for its code belongs here (a reset link needs one: sign in first)."""
        waiting = await asyncio.to_thread(_waiting_for, _cookie(self))
        reset_token = _reset_token(self)
        if waiting is None:
            return rx.redirect("/login?error=mfa_reset_sign_in" if reset_token else "/login")
        if waiting == MfaState.ENROL:
            return rx.redirect("/mfa/setup")
        params = self.router.url.query_parameters
        self.confirm_reset = bool(reset_token) and await asyncio.to_thread(_reset_link_valid, reset_token or "")
        self.error = RESET_ERRORS.get(params.get("reset_error", ""), "") or (
            "That code is not right. Check your authenticator app and try again." if params.get("error") else "")
        if reset_token and not self.confirm_reset and not self.error:
            self.error = mfa_reset.INVALID_LINK
        self.notice = ("We emailed you a link that resets two-factor authentication. Open it in this browser "
                       "within an hour." if params.get("sent") else "")
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
