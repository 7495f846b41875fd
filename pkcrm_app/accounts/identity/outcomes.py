"""What a page may say after a failed form post: fixed messages under short codes.

A route that fails sends the browser back to its page with `?error=<code>`; the page shows the message this
catalogue holds for the code, and one generic sentence for any other code. So the address of our own page
never carries text, and a link someone crafts (`/signup?error=Your account is locked, call ...`) cannot make
the page say their words. Routes find the code of a refusal from its message (`code_for`); a refusal with
no entry here is shown as the generic sentence and logged, so a new one is noticed and added.
"""

from __future__ import annotations

import logging

from pkcrm_app.accounts.identity import recovery
from pkcrm_app.accounts.identity.sso.fetch import UNREACHABLE
from pkcrm_app.accounts.identity.throttle import MIN_PASSWORD_LENGTH
from pkcrm_app.accounts.identity.tokens import CONFIRM_ACCOUNT
from pkcrm_app.accounts.organisations import invitations, signup
from pkcrm_app.core.mail import MailError

log = logging.getLogger("pkcrm.outcomes")

GENERIC = "That did not work. Check what you entered and try again."
MAIL_FAILED = "We could not send the email just now. Try again in a few minutes."
MESSAGES: dict[str, str] = {
    "failed": GENERIC,
    "mail": MAIL_FAILED,
    "confirm": CONFIRM_ACCOUNT,
    "signup-link": signup.INVALID_LINK,
    "invite-link": invitations.INVALID_LINK,
    "reset-link": recovery.INVALID_LINK,
    "email": "Enter a valid email address.",
    "name": "Enter your name.",
    "org-name": "Enter the organisation's name.",
    "name-long": "Your name must have at most 200 characters.",
    "org-name-long": "The organisation's name must have at most 200 characters.",
    "exists": "An account with this email already exists: sign in instead.",
    "password-short": f"the password must have at least {MIN_PASSWORD_LENGTH} characters",
    "password-common": "this password is on a list of commonly used passwords; choose another",
    "password-repeats": "the password repeats too few different characters",
    "password-email": "the password must not contain your email name",
    "passwords-differ": "The two passwords differ.",
    "new-passwords-differ": "The two new passwords differ.",
    "throttled": "Too many failed attempts. Try again in 15 minutes.",
    "wrong-password": "The password is not the one of your existing account.",
    "already-member": "You are already a member of this organisation.",
    "current-password": "The current password is incorrect.",
    "same-password": "The new password must differ from the current one.",
    "sso-client-id": "the client ID is required (as registered at the provider)",
    "sso-secret": "the client secret is required the first time",
    "sso-too-long": "the issuer or client secret is too long",
    "sso-issuer": "the issuer must be a URL such as https://login.example.com",
    "sso-https": "the issuer must use https",
    "sso-port": "the issuer has an invalid port",
    "sso-this-machine": "the issuer must not point at this machine",
    "sso-inside": "the issuer must not point at a loopback, private or link-local address",
    "sso-unreachable": UNREACHABLE,
    "sso-missing": "single sign-on is not configured",
}
_CODES = {message: code for code, message in MESSAGES.items()}


def code_for(refusal: Exception) -> str:
    """The short code of a refusal's message ('failed' when the catalogue lacks it); 'mail' for a mail not sent."""
    if isinstance(refusal, MailError):
        return "mail"
    code = _CODES.get(str(refusal))
    if code is None:
        log.info("a refusal without an outcome code was shown as the generic message: %s", type(refusal).__name__)
        return "failed"
    return code


def message_for(code: str | None) -> str:
    """What the page says for `code`: its fixed message, the generic one for an unknown code, '' for none."""
    if not code:
        return ""
    message = MESSAGES.get(code, GENERIC)
    return message[:1].upper() + message[1:]
