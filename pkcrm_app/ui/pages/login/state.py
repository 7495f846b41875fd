"""The sign-in page's state: only the outcome of the last attempt, read from a short code in the address."""

import reflex as rx

from pkcrm_app.accounts.identity.outcomes import GENERIC


class LoginPageState(rx.State):
    error: str = ""

    @rx.event
    def read_outcome(self) -> None:
        """on_load: the form post redirects back with ?error=1 (or =locked) after a failed attempt."""
        code = self.router.url.query_parameters.get("error", "")
        self.error = {"1": "Email or password is incorrect.",
                      "locked": "Too many failed sign-ins. Try again in 15 minutes.",
                      "mfa": "Your sign-in expired or had too many wrong codes. Sign in again.",
                      "mfa_locked": "Too many wrong two-factor codes in a row: two-factor sign-in to this account "
                                    "is locked for a while, and its owner was emailed. Try again later.",
                      "mfa_reset": "Two-factor authentication was reset and you were signed out everywhere. Sign in "
                                   "again; if your organisation requires it, you set up a new authenticator app then.",
                      "mfa_reset_sign_in": "To reset two-factor authentication, first sign in here with your "
                                           "password, in this browser: the code step then offers the reset.",
                      "deleted": "The organisation was deleted.",
                      "sso": "Single sign-on could not sign you in. Ask your administrator to check your account "
                             "and the organisation's single sign-on settings.",
                      "sso-unlinked": "This single sign-on account is not linked to a member yet. Sign in with "
                                      "your email and password, then choose \"Link single sign-on\" on your "
                                      "profile.",
                      "sso-owner": "Single sign-on signs in an owner only after they turn it on in their profile. "
                                   "Sign in with your email and password."}.get(code, GENERIC if code else "")
