"""Mails about single sign-on changes: to every owner when who may sign in changes, to a member whose
account got a provider account linked. Built inside the transaction, sent only after it committed."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from pkcrm_app.accounts.identity.models import Membership, Organisation, User
from pkcrm_app.core.authz import Role
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.mail import MailError, link, send_mail

log = logging.getLogger("pkcrm.sso")


@dataclass(frozen=True)
class Notice:
    to: str
    subject: str
    text: str = field(repr=False)


@dataclass(frozen=True)
class Recipients:
    """Whom a change is mailed to, and the words that name the organisation and the person acting."""

    owners: list[tuple[int, str]]  # (user id, email) of every active owner
    org_name: str
    actor_name: str


def recipients(db: Session, org_id: int, actor_user_id: int | None) -> Recipients:
    owners = db.execute(
        select(User.id, User.email).join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == org_id, Membership.role == Role.OWNER, Membership.is_active.is_(True),
               User.is_active.is_(True)).order_by(User.id)
    ).all()
    org_name = db.scalar(select(Organisation.name).where(Organisation.id == org_id)) or "your organisation"
    actor = db.scalar(select(User.name).where(User.id == actor_user_id)) if actor_user_id else None
    return Recipients([(user_id, email) for user_id, email in owners], org_name, actor or "Someone")


def to_owners(who: Recipients, what: str, *, ip: str = "") -> list[Notice]:
    """The same notice for every owner: what changed, by whom, when and from where, and what to do if unexpected."""
    when = f"{utcnow():%Y-%m-%d %H:%M} UTC" + (f" from {ip}" if ip else "")
    text = (f"{who.actor_name} {what} in \"{who.org_name}\" on PK WhatsApp CRM ({when}).\n\n"
            "Single sign-on decides who can sign in to your organisation, so every owner gets this email. "
            f"Review the settings and the audit log:\n\n{link('/settings/sso')}\n{link('/audit')}\n\n"
            "If you did not expect this change, switch single sign-on off and change your password.")
    subject = f"Single sign-on changed for {who.org_name}"
    return [Notice(email, subject, text) for _, email in who.owners]


def to_member(email: str, org_name: str, issuer: str) -> Notice:
    return Notice(email, f"Single sign-on linked to your {org_name} account", (
        f"A single sign-on account at {issuer} was linked to your account in \"{org_name}\" on PK WhatsApp CRM "
        f"({utcnow():%Y-%m-%d %H:%M} UTC). It can now sign you in.\n\nIf this was not you, change your password "
        f"and tell an owner of the organisation:\n\n{link('/profile')}"))


def deliver(notices: list[Notice]) -> int:
    """Send after commit; a failure is logged (the change stands and is in the audit log). Returns how many went."""
    sent = 0
    for notice in notices:
        try:
            send_mail(notice.to, notice.subject, notice.text)
            sent += 1
        except MailError:
            log.error("a single sign-on notice could not be mailed (%s)", notice.subject)
    return sent
