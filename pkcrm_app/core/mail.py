"""Outgoing mail: SMTP when a host is configured, else .eml files in the instance outbox (embedded demo).

Mails carry single-use links, so neither the body nor the link is ever logged."""

from __future__ import annotations

import logging
import secrets
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import DomainError
from pkcrm_app.settings import Settings, get_settings

log = logging.getLogger("pkcrm.mail")
SMTP_TIMEOUT_SECONDS = 15


class MailError(DomainError):
    """A mail could not be handed to the SMTP server (or written to the outbox)."""


class Mailer:
    """Sends plain-text mails with the configured SMTP server (STARTTLS and login when configured)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def build(self, to: str, subject: str, text: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="pkcrm.local")
        message.set_content(text)
        return message

    def send(self, to: str, subject: str, text: str) -> None:
        message = self.build(to, subject, text)
        if not self.settings.smtp_host:
            self._save(message)
            return
        host, port = self.settings.smtp_host, self.settings.smtp_port
        try:
            with smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
                if self.settings.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.settings.smtp_user:
                    smtp.login(self.settings.smtp_user, self.settings.smtp_password)
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            # The exception text may echo server replies, never our password or the mail body.
            log.error("mail %r to the SMTP server %s:%s failed: %s", subject, host, port, type(exc).__name__)
            raise MailError(f"the mail server {host}:{port} did not accept the mail ({type(exc).__name__})") from exc
        log.info("mail %r sent through %s:%s", subject, host, port)

    def _save(self, message: EmailMessage) -> None:
        outbox = self.settings.outbox_dir
        try:
            outbox.mkdir(parents=True, exist_ok=True)
            path = outbox / f"{utcnow():%Y%m%dT%H%M%S}-{secrets.token_hex(4)}.eml"
            path.write_bytes(bytes(message))
            path.chmod(0o600)
        except OSError as exc:
            log.error("mail %r could not be saved in the outbox: %s", message["Subject"], type(exc).__name__)
            raise MailError("the mail could not be saved in the outbox folder") from exc
        log.info("no SMTP host configured: mail %r saved as %s", message["Subject"], path.name)


def send_mail(to: str, subject: str, text: str) -> None:
    """Send one plain-text mail with the current settings; raises MailError when it cannot be delivered."""
    Mailer(get_settings()).send(to, subject, text)


def link(path: str) -> str:
    """An absolute link into the app for a mail (PKCRM_PUBLIC_URL + path)."""
    return get_settings().public_url + path
