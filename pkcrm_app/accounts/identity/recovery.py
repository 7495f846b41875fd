"""Password reset by an emailed single-use link (1 hour); the answer never says whether an account exists."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity.mail_throttle import MailKind, admit
from pkcrm_app.accounts.identity.models import Membership, User
from pkcrm_app.accounts.identity.passwords import hash_password
from pkcrm_app.accounts.identity.throttle import check_password_strength
from pkcrm_app.accounts.identity.tokens import (
    browser_hash,
    end_user_sessions,
    new_token,
    normalise_email,
    require_confirmed,
    same_browser,
    token_hash,
)
from pkcrm_app.accounts.organisations.onboarding_models import PasswordReset
from pkcrm_app.audit.service import record
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import InvalidInput
from pkcrm_app.core.mail import MailError, link, send_mail

log = logging.getLogger("pkcrm.recovery")
RESET_TTL = timedelta(hours=1)
INVALID_LINK = "This password-reset link is invalid, expired or already used. Ask for a new one."


@dataclass(frozen=True)
class OutgoingMail:
    to: str
    subject: str
    text: str = field(repr=False)  # holds the single-use link


@dataclass(frozen=True)
class ResetView:
    """What the reset page shows before the new password is chosen."""

    email: str
    same_browser: bool  # opened where the reset was asked for (else the email must be confirmed first)


@dataclass(frozen=True)
class ResetDone:
    """The user whose password was reset and the membership a new session opens in (None: no active one)."""

    user: User
    membership: Membership | None


def request_password_reset(db: Session, email: str, *, ip: str = "", device: str = "",
                           browser: str | None = None) -> OutgoingMail | None:
    """The reset mail to send once the caller commits, when the email belongs to an active user and the mail
    limits (mail_throttle, counted for every email alike) allow it; else None. The link is bound to `browser`
    (the asking browser's cookie).

    The caller answers the same either way and sends the mail after answering (`deliver_quietly`), so
    neither the answer, its timing nor a mail failure tells a real account from an unknown one."""
    email = normalise_email(email)
    if not admit(db, MailKind.PASSWORD_RESET, email, ip, device=device):
        return None
    user = db.scalar(select(User).where(User.email == email))
    if user is None or not user.is_active:
        return None
    token, digest = new_token()
    db.add(PasswordReset(user_id=user.id, token_hash=digest, browser_hash=browser_hash(browser),
                         expires_at=utcnow() + RESET_TTL))
    return OutgoingMail(to=user.email, subject="Reset your PK WhatsApp CRM password", text=(
        f"Hello {user.name},\n\nsomeone (hopefully you) asked to reset the password of this account. "
        f"Choose a new password here:\n\n{link('/auth/reset/' + token)}\n\nThe link works once, within 1 hour. "
        "If you did not ask for it, ignore this email: your password stays as it is."))


def deliver_quietly(mail: OutgoingMail | None) -> None:
    """Send a reset mail; a failure is logged (without the link), never shown to the requester."""
    if mail is None:
        return
    try:
        send_mail(mail.to, mail.subject, mail.text)
    except MailError:
        log.error("a password-reset mail could not be sent")


def _valid(db: Session, token: str | None) -> PasswordReset:
    reset = db.scalar(select(PasswordReset).where(PasswordReset.token_hash == token_hash(token))) if token else None
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        raise InvalidInput(INVALID_LINK)
    return reset


def reset_link_is_valid(db: Session, token: str | None) -> bool:
    """Whether the reset page should offer the form (or say the link no longer works)."""
    try:
        _valid(db, token)
    except InvalidInput:
        return False
    return True


def describe_reset(db: Session, token: str | None, browser: str | None = None) -> ResetView | None:
    """The account a valid link resets (for the page to name it), or None for a link that no longer works."""
    try:
        reset = _valid(db, token)
    except InvalidInput:
        return None
    user = db.get(User, reset.user_id)
    if user is None or not user.is_active:
        return None
    return ResetView(email=user.email, same_browser=same_browser(reset.browser_hash, browser))


def reset_password(db: Session, token: str | None, new_password: str, *, browser: str | None = None,
                   confirmed_email: str = "", ip: str = "", device: str = "") -> ResetDone:
    """Set a new password from a valid link; every session of the user ends and every reset link is spent.

    Away from the browser that asked for it, the reset goes on only once the person confirmed the account's
    email (`confirmed_email`); whoever is signed in on that browser is not taken to be that person."""
    reset = _valid(db, token)
    user = db.get(User, reset.user_id)
    if user is None or not user.is_active:
        raise InvalidInput(INVALID_LINK)
    require_confirmed(user.email, confirmed_email=confirmed_email, bound=same_browser(reset.browser_hash, browser))
    check_password_strength(new_password, user.email)
    now = utcnow()
    user.password_hash = hash_password(new_password)
    db.execute(update(PasswordReset).where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
               .values(used_at=now).execution_options(synchronize_session=False))
    reset.used_at = now
    ended = end_user_sessions(db, user.id)
    membership = db.scalar(select(Membership).where(Membership.user_id == user.id, Membership.is_active.is_(True))
                           .order_by(Membership.id).limit(1))
    record(db, action="password.reset", org_id=membership.org_id if membership else None, actor_user_id=user.id,
           target_type="user", target_id=user.id, details={"sessions_ended": ended}, ip_address=ip, device=device)
    return ResetDone(user=user, membership=membership)
