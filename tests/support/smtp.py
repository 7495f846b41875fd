"""A real SMTP server for tests (aiosmtpd on a free loopback port) that keeps every message it receives."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast
from urllib.parse import urlsplit

from aiosmtpd.controller import Controller

from pkcrm_app.settings import get_settings

PUBLIC_URL = "http://testserver"


class Keeper:
    """aiosmtpd handler: parse and keep each delivered message."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        message = cast(EmailMessage, message_from_bytes(envelope.content, policy=policy.default))
        self.messages.append(message)
        return "250 Message accepted for delivery"


class Mailbox:
    def __init__(self, keeper: Keeper) -> None:
        self._keeper = keeper

    @property
    def messages(self) -> list[EmailMessage]:
        return list(self._keeper.messages)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self._keeper.messages if m["To"] == address]

    @staticmethod
    def body(message: EmailMessage) -> str:
        part = message.get_body(preferencelist=("plain",))
        assert part is not None
        return cast(str, part.get_content())

    def link(self, message: EmailMessage, prefix: str) -> str:
        """The path of the first link in the mail whose path starts with `prefix`."""
        for url in re.findall(r"https?://\S+", self.body(message)):
            parts = urlsplit(url)
            if parts.path.startswith(prefix):
                assert f"{parts.scheme}://{parts.netloc}" == PUBLIC_URL
                return parts.path
        raise AssertionError(f"no {prefix} link in the mail")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def running_mailbox() -> Iterator[Mailbox]:
    """A running SMTP server with the app's settings pointed at it (no STARTTLS, no login); for a fixture's
    `yield from`: the server stops and the settings come back afterwards."""
    keeper = Keeper()
    port = free_port()
    controller = Controller(keeper, hostname="127.0.0.1", port=port)
    controller.start()
    env = {"PKCRM_SMTP_HOST": "127.0.0.1", "PKCRM_SMTP_PORT": str(port), "PKCRM_SMTP_STARTTLS": "0",
           "PKCRM_MAIL_FROM": "CRM <crm@testserver>", "PKCRM_PUBLIC_URL": PUBLIC_URL,
           "PKCRM_COOKIE_SECURE": "0"}  # the test client speaks plain http to a host that is not loopback
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    get_settings.cache_clear()
    try:
        yield Mailbox(keeper)
    finally:
        controller.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()
