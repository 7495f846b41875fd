"""Sign-up: a confirmed email creates an organisation, its owner and the default pipeline.

Nothing is created before the emailed link is followed, and the answer to a sign-up request is the
same whether or not the email already has an account (that person gets a "sign in or reset" mail)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity.mail_throttle import MailKind, admit
from pkcrm_app.accounts.identity.models import Membership, Organisation, User
from pkcrm_app.accounts.identity.passwords import hash_password
from pkcrm_app.accounts.identity.service import add_member, create_organisation
from pkcrm_app.accounts.identity.throttle import check_password_strength
from pkcrm_app.accounts.identity.tokens import (
    browser_hash,
    new_token,
    normalise_email,
    require_confirmed,
    same_browser,
    token_hash,
)
from pkcrm_app.accounts.organisations.onboarding_models import SignupRequest
from pkcrm_app.audit.service import record
from pkcrm_app.core.authz import Role
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import InvalidInput
from pkcrm_app.core.mail import link, send_mail

SIGNUP_TTL = timedelta(hours=24)
INVALID_LINK = "This sign-up link is invalid, expired or already used. Sign up again to get a new one."
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class SignedUp:
    """What a confirmed sign-up created; the route opens the owner's first session with it."""

    user: User
    membership: Membership
    org: Organisation


@dataclass(frozen=True)
class PendingSignUp:
    """What the confirmation page shows before anything is created."""

    email: str
    name: str
    org_name: str
    same_browser: bool = False  # opened where the sign-up was asked for (else the email must be confirmed)


def valid_email(email: str) -> str:
    """The email, normalised, or InvalidInput."""
    email = normalise_email(email)
    if len(email) > 320 or not EMAIL_PATTERN.match(email):
        raise InvalidInput("Enter a valid email address.")
    return email


def required_text(value: str, what: str, limit: int = 200) -> str:
    value = " ".join(value.split())
    if not value:
        raise InvalidInput(f"Enter {what}.")
    if len(value) > limit:
        raise InvalidInput(f"{what[0].upper()}{what[1:]} must have at most {limit} characters.")
    return value


def request_sign_up(db: Session, *, email: str, name: str, org_name: str, password: str, ip: str = "",
                    device: str = "", browser: str | None = None) -> None:
    """Mail a confirmation link (new email) or a "you already have an account" note (known email); the link is
    bound to `browser` (the asking browser's cookie).

    The caller shows the same "check your email" answer either way, and also when the mail limits
    (mail_throttle) hold the mail back; the password is hashed on every path so they cost the same."""
    email = valid_email(email)
    name = required_text(name, "your name")
    org_name = required_text(org_name, "the organisation's name")
    check_password_strength(password, email)
    password_hash = hash_password(password)
    if not admit(db, MailKind.SIGNUP, email, ip, device=device):
        return
    if db.scalar(select(User.id).where(User.email == email)) is not None:
        send_mail(email, "You already have a PK WhatsApp CRM account", (
            "Someone (hopefully you) tried to create a new organisation with this email address, but it already "
            f"has an account.\n\nSign in: {link('/login')}\nForgot your password? Reset it: {link('/forgot')}\n\n"
            "If this was not you, you can ignore this email."))
        return
    token, digest = new_token()
    db.add(SignupRequest(email=email, name=name, org_name=org_name, password_hash=password_hash, token_hash=digest,
                         browser_hash=browser_hash(browser), expires_at=utcnow() + SIGNUP_TTL))
    db.flush()
    send_mail(email, "Confirm your PK WhatsApp CRM sign-up", (
        f"Hello {name},\n\nconfirm your email address to create \"{org_name}\" on PK WhatsApp CRM:\n\n"
        f"{link('/auth/signup/confirm/' + token)}\n\nThe link works once, within 24 hours. If you did not sign up, "
        "ignore this email and nothing will be created."))


def unique_slug(db: Session, name: str) -> str:
    """A URL-friendly slug of the organisation's name, numbered when taken."""
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "organisation"
    slug, n = base, 1
    while db.scalar(select(Organisation.id).where(Organisation.slug == slug)) is not None:
        n += 1
        slug = f"{base}-{n}"
    return slug


def _pending(db: Session, token: str | None) -> SignupRequest:
    request = db.scalar(select(SignupRequest).where(SignupRequest.token_hash == token_hash(token))) if token else None
    if request is None or request.used_at is not None or request.expires_at <= utcnow():
        raise InvalidInput(INVALID_LINK)
    return request


def describe(db: Session, token: str | None, browser: str | None = None) -> PendingSignUp:
    """What a valid link would create, for the confirmation page; reading it changes nothing."""
    request = _pending(db, token)
    return PendingSignUp(email=request.email, name=request.name, org_name=request.org_name,
                         same_browser=same_browser(request.browser_hash, browser))


def confirm_sign_up(db: Session, token: str | None, *, browser: str | None = None, confirmed_email: str = "",
                    ip: str = "", device: str = "") -> SignedUp:
    """The owner confirms on the page the emailed link leads to (a POST, never the link's GET, which mail
    scanners may prefetch): create the organisation, its owner and the owner's membership (flows/signup.py
    adds the pipeline).

    Away from the browser that asked for it, the link goes on only once the page's person confirmed the email
    (`confirmed_email`): a link someone forwarded must not sign the reader in to the sender's new account."""
    request = _pending(db, token)
    require_confirmed(request.email, confirmed_email=confirmed_email,
                      bound=same_browser(request.browser_hash, browser))
    request.used_at = utcnow()
    if db.scalar(select(User.id).where(User.email == request.email)) is not None:
        raise InvalidInput("An account with this email already exists: sign in instead.")
    org = create_organisation(db, name=request.org_name, slug=unique_slug(db, request.org_name))
    user = User(email=request.email, name=request.name, password_hash=request.password_hash)
    db.add(user)
    db.flush()
    membership = add_member(db, org_id=org.id, user_id=user.id, role=Role.OWNER)
    record(db, action="organisation.created", org_id=org.id, actor_user_id=user.id, target_type="organisation",
           target_id=org.id, details={"via": "sign-up", "slug": org.slug}, ip_address=ip, device=device)
    return SignedUp(user=user, membership=membership, org=org)
