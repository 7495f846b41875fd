"""Password policy, progressive delay and lockout per account and per IP, with no user enumeration."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pkcrm_app.accounts import service
from pkcrm_app.accounts.permissions import Role
from pkcrm_app.accounts.throttle import check_password_strength
from pkcrm_app.audit.models import AuditEvent
from pkcrm_app.core.errors import AuthenticationFailed, InvalidInput, LoginThrottled
from tests.support.data import PASSWORD, make_org


def attempt(database, email: str, password: str, ip: str = "10.0.0.1") -> AuthenticationFailed | None:  # type: ignore[no-untyped-def]
    try:
        with database.session() as db:
            service.login(db, email=email, password=password, ip=ip, user_agent="pytest", hours=1)
    except AuthenticationFailed as failure:
        return failure
    return None


@pytest.mark.parametrize(("password", "reason"), [
    ("short1!", "at least 10 characters"),
    ("Password123", "commonly used"),
    ("aaaaaaaaaaaa", "too few different characters"),
    ("my-alice-secret-7", "email name"),
])
def test_weak_passwords_are_refused_with_a_reason(password: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        check_password_strength(password, "alice@acme.test")


def test_a_real_and_an_unknown_email_are_locked_alike_after_five_failures(database) -> None:  # type: ignore[no-untyped-def]
    acme = make_org(database, "acme", "1001", {"alice": Role.AGENT})
    alice = acme.users["alice"][1]
    for email in (alice, "nobody@acme.test"):
        delays = [attempt(database, email, "wrong password!").delay_seconds for _ in range(5)]  # type: ignore[union-attr]
        assert delays == sorted(delays) and delays[-1] > delays[0] == 0.0  # slower after each failure
        locked = attempt(database, email, PASSWORD if email == alice else "anything at all")
        assert isinstance(locked, LoginThrottled) and "15 minutes" in str(locked)
    with database.session() as db:
        assert len(db.scalars(select(AuditEvent).where(AuditEvent.action == "login.locked")).all()) == 2


def test_a_success_clears_earlier_failures_of_that_account(database) -> None:  # type: ignore[no-untyped-def]
    acme = make_org(database, "acme", "1001", {"alice": Role.AGENT})
    alice = acme.users["alice"][1]
    for _ in range(4):
        attempt(database, alice, "wrong password!")
    assert attempt(database, alice, PASSWORD) is None
    for _ in range(4):
        assert not isinstance(attempt(database, alice, "wrong password!"), LoginThrottled)


def test_one_address_guessing_many_accounts_is_locked_out_but_others_are_not(database) -> None:  # type: ignore[no-untyped-def]
    acme = make_org(database, "acme", "1001", {"alice": Role.AGENT})
    for n in range(20):
        attempt(database, f"guess{n}@acme.test", "wrong password!", ip="203.0.113.9")
    assert isinstance(attempt(database, acme.users["alice"][1], PASSWORD, ip="203.0.113.9"), LoginThrottled)
    assert attempt(database, acme.users["alice"][1], PASSWORD, ip="198.51.100.7") is None


def test_the_login_route_waits_and_says_locked(api, database, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    waited: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr("pkcrm_app.routes.auth.asyncio.sleep", fake_sleep)
    make_org(database, "acme", "1001", {"alice": Role.AGENT})
    locations = [api.post("/auth/login", data={"email": "alice@acme.test", "password": "wrong password!"},
                          follow_redirects=False).headers["location"] for _ in range(6)]
    assert locations[:5] == ["/login?error=1"] * 5 and locations[5] == "/login?error=locked"
    assert waited[0] == 0.0 and waited[4] > waited[2] > 0
