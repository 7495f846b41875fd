"""A person resets their own second factor by email when they lost their authenticator app (and their
recovery codes): the way back for someone whose factor no single organisation's admin may reset (person.py).

Two proofs, so that neither a known password nor a read mailbox is enough alone: the link is asked for from
a login waiting for its code (the password has just passed), it goes to the person's email, and it is
confirmed in a browser where a login of the same person waits for its code (password typed within ten
minutes). The reset is recorded in the audit log of every organisation of the person and alerts all their
admins; every session of the person ends, and an organisation whose policy requires a factor has them enrol
a new one at their next sign-in.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import DateTime, ForeignKey, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from pkcrm_app.accounts.identity import mfa
from pkcrm_app.accounts.identity.mail_throttle import MailKind, admit
from pkcrm_app.accounts.identity.models import User, session_id_for
from pkcrm_app.accounts.identity.recovery import OutgoingMail
from pkcrm_app.accounts.identity.second_factor import MfaState, waiting_login
from pkcrm_app.accounts.identity.tokens import end_user_sessions, new_token, token_hash
from pkcrm_app.accounts.security.alerts import note_factor_event
from pkcrm_app.accounts.security.models import AlertKind
from pkcrm_app.audit.service import record
from pkcrm_app.core.db import Base, utcnow
from pkcrm_app.core.errors import AuthenticationFailed, InvalidInput
from pkcrm_app.core.mail import link

RESET_TTL = timedelta(hours=1)
EXPIRED = "Your sign-in has expired. Sign in again."
INVALID_LINK = ("This link to reset two-factor authentication is invalid, expired or already used. Sign in and "
                "ask for a new one.")
SAME_BROWSER = ("Open the link in the browser where you signed in with your password, within ten minutes of "
                "signing in there (sign in again first if it was longer ago).")


class FactorReset(Base):
    """One emailed link that resets a person's second factor; only the hash of its token is stored."""

    __tablename__ = "mfa_factor_reset"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


def request_reset(db: Session, session_token: str | None, *, ip: str = "", device: str = "") -> OutgoingMail | None:
    """The mail to send once the caller commits, for the person of a login waiting for its code; None when the
    mail limits (mail_throttle) hold it back, which the answer does not show."""
    waiting = waiting_login(db, session_id_for(session_token))
    if waiting is None or waiting.state != MfaState.CODE:
        raise AuthenticationFailed(EXPIRED)
    user = waiting.user
    if not admit(db, MailKind.FACTOR_RESET, user.email, ip, device=device):
        return None
    token, digest = new_token()
    db.add(FactorReset(user_id=user.id, token_hash=digest, expires_at=utcnow() + RESET_TTL))
    record(db, action="mfa.reset_requested", org_id=waiting.session.org_id, actor_user_id=user.id,
           target_type="user", target_id=user.id, ip_address=ip, device=device)
    return OutgoingMail(to=user.email, subject="Reset two-factor authentication on PK WhatsApp CRM", text=(
        f"Hello {user.name},\n\nsomeone who knows your password (hopefully you) lost their authenticator app "
        f"and asked to reset two-factor authentication on your account. To reset it, open this link in the "
        f"browser where you just signed in:\n\n{link('/auth/mfa/reset/' + token)}\n\nThe link works once, within "
        "1 hour. Your organisations' administrators are told when it is used.\n\nIf you did not ask for it, do "
        "not open the link and change your password now: someone else knows it."))


def _valid(db: Session, token: str | None) -> FactorReset:
    reset = db.scalar(select(FactorReset).where(FactorReset.token_hash == token_hash(token))) if token else None
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        raise InvalidInput(INVALID_LINK)
    return reset


def link_is_valid(db: Session, token: str | None) -> bool:
    """Whether the code page should offer to confirm the reset (or say the link no longer works)."""
    try:
        _valid(db, token)
    except InvalidInput:
        return False
    return True


def confirm_reset(db: Session, token: str | None, session_token: str | None, *, ip: str = "",
                  device: str = "") -> int:
    """Reset the second factor of the link's person, confirmed by that person's waiting login in this browser;
    returns how many of their sessions ended (all of them: they sign in again)."""
    reset = _valid(db, token)
    waiting = waiting_login(db, session_id_for(session_token))
    if waiting is None or waiting.state != MfaState.CODE or waiting.user.id != reset.user_id:
        raise InvalidInput(SAME_BROWSER)
    user: User = waiting.user
    now = utcnow()
    db.execute(update(FactorReset).where(FactorReset.user_id == user.id, FactorReset.used_at.is_(None))
               .values(used_at=now).execution_options(synchronize_session=False))
    reset.used_at = now
    if mfa.reset_factor(db, user.id, actor_user_id=user.id, how="email"):
        note_factor_event(db, user_id=user.id, kind=AlertKind.MFA_RESET, details={"ip": ip}, message=(
            f"{user.name} reset their two-factor authentication with a link sent to their email"))
    ended = end_user_sessions(db, user.id)
    record(db, action="mfa.reset_confirmed", org_id=waiting.session.org_id, actor_user_id=user.id,
           target_type="user", target_id=user.id, details={"sessions_ended": ended}, ip_address=ip, device=device)
    return ended
