"""Sign-up and password-reset requests are limited per email and per IP, with an unchanged answer and no mail."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from pkcrm_app.accounts.identity.mail_throttle import MAILS_PER_EMAIL, REQUESTS_PER_IP, MailRequest
from pkcrm_app.audit.models import AuditEvent
from pkcrm_app.core.authz import Role
from pkcrm_app.core.db import utcnow
from pkcrm_app.http import build_api
from tests.support.data import make_org
from tests.support.smtp import Mailbox, running_mailbox

JSON = {"accept": "application/json"}
SIGNUP_SENT = (200, b'{"next":"/signup?sent=1"}')
FORGOT_SENT = (200, b'{"next":"/forgot?sent=1"}')


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    yield from running_mailbox()


@pytest.fixture
def other_ip(database) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A client of the same app coming from another address."""
    with TestClient(build_api(), base_url="http://testserver", client=("203.0.113.9", 40000)) as client:
        yield client


def sign_up(client: TestClient, email: str) -> tuple[int, bytes]:
    answer = client.post("/auth/signup", data={"email": email, "name": "Sana Malik", "org_name": "Karachi Kites",
                                               "password": "mango lassi at noon"}, headers=JSON)
    return answer.status_code, answer.content


def forgot(client: TestClient, email: str) -> tuple[int, bytes]:
    answer = client.post("/auth/forgot", data={"email": email}, headers=JSON)
    return answer.status_code, answer.content


def throttled(database) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    with database.session() as db:
        events = db.scalars(select(AuditEvent).where(AuditEvent.action.like("%.mail_throttled"))
                            .order_by(AuditEvent.id)).all()
        return [(e.action, e.details["limit"], e.ip_address) for e in events]


def an_hour_passes(database) -> None:  # type: ignore[no-untyped-def]
    with database.session() as db:
        db.execute(update(MailRequest).values(created_at=utcnow() - timedelta(minutes=61)))


def test_sign_up_mails_per_email_are_limited(api, other_ip, database, mailbox, caplog) -> None:
    make_org(database, "acme", "1001", {"alice": Role.OWNER})
    with caplog.at_level("WARNING", logger="pkcrm.mail_throttle"):
        answers = [sign_up(api, "Sana@Kites.test") for _ in range(MAILS_PER_EMAIL + 2)]
        answers.append(sign_up(other_ip, "sana@kites.test"))  # another address does not get round it
        known = [sign_up(api, "alice@acme.test") for _ in range(MAILS_PER_EMAIL + 1)]  # existing account: the same
    assert set(answers + known) == {SIGNUP_SENT}
    assert len(mailbox.to("sana@kites.test")) == MAILS_PER_EMAIL
    assert len(mailbox.to("alice@acme.test")) == MAILS_PER_EMAIL
    assert throttled(database) == [("signup.mail_throttled", "email", "testclient")] * 2 + [
        ("signup.mail_throttled", "email", "203.0.113.9"), ("signup.mail_throttled", "email", "testclient")]
    assert caplog.text.count("signup mail not sent") == 4 and "kites.test" not in caplog.text

    an_hour_passes(database)
    assert sign_up(api, "sana@kites.test") == SIGNUP_SENT
    assert len(mailbox.to("sana@kites.test")) == MAILS_PER_EMAIL + 1


def test_sign_up_requests_per_ip_are_limited(api, other_ip, database, mailbox, caplog) -> None:
    with caplog.at_level("WARNING", logger="pkcrm.mail_throttle"):
        answers = [sign_up(api, f"person{n}@kites.test") for n in range(REQUESTS_PER_IP + 1)]
    assert set(answers) == {SIGNUP_SENT}
    assert len(mailbox.messages) == REQUESTS_PER_IP and mailbox.to(f"person{REQUESTS_PER_IP}@kites.test") == []
    assert throttled(database) == [("signup.mail_throttled", "ip", "testclient")]
    assert "signup mail not sent" in caplog.text and "testclient" in caplog.text
    # Someone else, elsewhere, signs up as usual.
    assert sign_up(other_ip, f"person{REQUESTS_PER_IP}@kites.test") == SIGNUP_SENT
    assert len(mailbox.to(f"person{REQUESTS_PER_IP}@kites.test")) == 1


def test_reset_mails_per_email_are_limited(api, other_ip, database, mailbox, caplog) -> None:
    make_org(database, "acme", "1001", {"alice": Role.AGENT})
    with caplog.at_level("WARNING", logger="pkcrm.mail_throttle"):
        answers = [forgot(api, "alice@acme.test") for _ in range(MAILS_PER_EMAIL + 1)]
        answers.append(forgot(other_ip, "ALICE@acme.test"))
        answers += [forgot(api, "nobody@acme.test") for _ in range(MAILS_PER_EMAIL + 1)]  # unknown: same answers
    assert set(answers) == {FORGOT_SENT}
    assert [m["To"] for m in mailbox.messages] == ["alice@acme.test"] * MAILS_PER_EMAIL
    assert throttled(database) == [("password_reset.mail_throttled", "email", ip)
                                   for ip in ("testclient", "203.0.113.9", "testclient")]
    assert caplog.text.count("password_reset mail not sent") == 3 and "acme.test" not in caplog.text

    an_hour_passes(database)
    assert forgot(api, "alice@acme.test") == FORGOT_SENT
    assert len(mailbox.to("alice@acme.test")) == MAILS_PER_EMAIL + 1


def test_reset_requests_per_ip_are_limited(api, other_ip, database, mailbox) -> None:
    make_org(database, "acme", "1001", {"alice": Role.AGENT})
    answers = [forgot(api, f"guess{n}@acme.test") for n in range(REQUESTS_PER_IP)]  # someone probing addresses
    answers.append(forgot(api, "alice@acme.test"))
    assert set(answers) == {FORGOT_SENT}
    assert mailbox.messages == []  # the real account's mail was held back too
    assert throttled(database) == [("password_reset.mail_throttled", "ip", "testclient")]
    assert forgot(other_ip, "alice@acme.test") == FORGOT_SENT
    assert [m["To"] for m in mailbox.messages] == ["alice@acme.test"]


def test_sign_up_and_reset_limits_are_counted_apart(api, database, mailbox) -> None:
    make_org(database, "acme", "1001", {"alice": Role.AGENT})
    for _ in range(MAILS_PER_EMAIL):
        sign_up(api, "alice@acme.test")
    assert forgot(api, "alice@acme.test") == FORGOT_SENT
    assert len(mailbox.to("alice@acme.test")) == MAILS_PER_EMAIL + 1
