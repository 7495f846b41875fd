"""Mails that tell a person about their own account (their second factor was locked), queued during the
transaction that decided them and sent only once it commits: no mail I/O inside a write transaction, and no
mail about a change that was rolled back. A mail that cannot go out is logged, never raised: the change it
reports has already happened."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import event
from sqlalchemy.orm import Session

from pkcrm_app.core.mail import MailError, send_mail

log = logging.getLogger("pkcrm.notices")
_PENDING = "pkcrm_pending_notices"


@dataclass(frozen=True)
class Notice:
    to: str
    subject: str
    text: str = field(repr=False)


def mail_after_commit(db: Session, to: str, subject: str, text: str) -> None:
    """Queue a mail that goes out only if the surrounding transaction commits."""
    db.info.setdefault(_PENDING, []).append(Notice(to, subject, text))


@event.listens_for(Session, "after_commit")
def _send(db: Session) -> None:
    for notice in db.info.pop(_PENDING, []):
        try:
            send_mail(notice.to, notice.subject, notice.text)
        except MailError:
            log.error("an account notice (%s) could not be sent", notice.subject)


@event.listens_for(Session, "after_rollback")
def _discard(db: Session) -> None:
    db.info.pop(_PENDING, None)
