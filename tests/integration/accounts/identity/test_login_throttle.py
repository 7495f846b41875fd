"""Password policy, progressive delay and lockout per account, per known device and per IP, with no user
enumeration; client addresses from proxy headers only behind trusted proxies."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from pkcrm_app import http as http_package
from pkcrm_app.accounts.identity import service, throttle
from pkcrm_app.accounts.identity.models import User
from pkcrm_app.accounts.identity.passwords import hash_password
from pkcrm_app.accounts.identity.throttle import ACCOUNT_LOCK_AFTER, LoginAttempt, assess, check_password_strength
from pkcrm_app.audit.models import AuditEvent
from pkcrm_app.core.authz import Role
from pkcrm_app.core.errors import AuthenticationFailed, InvalidInput, LoginThrottled
from pkcrm_app.http import auth as auth_routes
from pkcrm_app.http import build_api
from pkcrm_app.settings import get_settings
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
    for n in range(throttle.IP_LOCK_EMAILS):
        attempt(database, f"guess{n}@acme.test", "wrong password!", ip="203.0.113.9")
    assert isinstance(attempt(database, acme.users["alice"][1], PASSWORD, ip="203.0.113.9"), LoginThrottled)
    assert attempt(database, acme.users["alice"][1], PASSWORD, ip="198.51.100.7") is None


def test_signing_in_to_ones_own_account_does_not_reset_anyone_elses_count(database) -> None:  # type: ignore[no-untyped-def]
    """A password spray that signs in to the sprayer's own account every few tries (which used to clear the
    address's count) is locked all the same: a success clears only that account's own failures."""
    acme = make_org(database, "acme", "1001", {"mallory": Role.AGENT})
    own = []
    for round_ in range(10):
        for n in range(4):
            attempt(database, f"victim{round_}-{n}@acme.test", "Summer2024!", ip="203.0.113.9")
        own.append(attempt(database, acme.users["mallory"][1], PASSWORD, ip="203.0.113.9"))
    # 4 different emails failed per round: the address locks in round 8, at IP_LOCK_EMAILS, Mallory's own
    # successes in between notwithstanding (and her own sign-in from there is locked too).
    assert throttle.IP_LOCK_EMAILS == 30 and own[:7] == [None] * 7
    assert all(isinstance(outcome, LoginThrottled) for outcome in own[7:])
    assert isinstance(attempt(database, "victim-next@acme.test", "Summer2024!", ip="203.0.113.9"), LoginThrottled)
    with database.session() as db:  # her successes cleared her own account's failures: elsewhere she is fine
        assert not assess(db, acme.users["mallory"][1], "198.51.100.7").locked


def test_one_busy_office_address_is_not_shut_out_by_a_stranger(database) -> None:  # type: ignore[no-untyped-def]
    """Everyone behind one proxy shares its address: a stranger hammering one account, or a handful of people
    mistyping, locks no one else; only failures for many different emails (a spray) lock the address."""
    acme = make_org(database, "acme", "1001", {"alice": Role.AGENT, "bob": Role.AGENT})
    office = "192.0.2.50"
    for _ in range(40):  # a stranger in the office guessing at Bob's account
        attempt(database, acme.users["bob"][1], "guess guess guess", ip=office)
    for n in range(throttle.IP_LOCK_EMAILS - 2):  # and colleagues (or a stranger) mistyping
        attempt(database, f"colleague{n}@acme.test", "typo typo typo", ip=office)
    assert attempt(database, acme.users["alice"][1], PASSWORD, ip=office) is None
    assert isinstance(attempt(database, acme.users["bob"][1], PASSWORD, ip=office), LoginThrottled)  # his, only


def test_the_login_route_waits_and_says_locked(api, database, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    waited: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr("pkcrm_app.http.auth.asyncio.sleep", fake_sleep)
    make_org(database, "acme", "1001", {"alice": Role.AGENT})
    locations = [api.post("/auth/login", data={"email": "alice@acme.test", "password": "wrong password!"},
                          follow_redirects=False).headers["location"] for _ in range(6)]
    assert locations[:5] == ["/login?error=1"] * 5 and locations[5] == "/login?error=locked"
    assert waited[0] == 0.0 and waited[4] > waited[2] > 0


@pytest.fixture
def no_waiting(monkeypatch):  # type: ignore[no-untyped-def]
    """The login route's progressive slow-down, skipped (it is tested above)."""
    async def skip(_seconds: float) -> None:
        return None

    monkeypatch.setattr("pkcrm_app.http.auth.asyncio.sleep", skip)


def post_login(client, email: str, password: str) -> str:  # type: ignore[no-untyped-def]
    return str(client.post("/auth/login", data={"email": email, "password": password},
                           follow_redirects=False).headers["location"])


def test_a_known_device_gets_its_owner_past_a_lockout_strangers_caused(api, database, no_waiting) -> None:  # type: ignore[no-untyped-def]
    acme = make_org(database, "acme", "1001", {"alice": Role.AGENT, "mallory": Role.AGENT})
    alice, mallory = acme.users["alice"][1], acme.users["mallory"][1]
    signed_in = api.post("/auth/login", data={"email": alice, "password": PASSWORD}, follow_redirects=False)
    assert signed_in.headers["location"] == "/board"
    [device_cookie] = [c for c in signed_in.headers.get_list("set-cookie")
                       if c.startswith(auth_routes.DEVICE_COOKIE + "=")]
    assert "httponly" in device_cookie.lower() and "path=/auth" in device_cookie.lower()
    with TestClient(build_api(), base_url="http://testserver") as stranger:
        assert post_login(stranger, mallory, PASSWORD) == "/board"  # her own known device: no help against Alice
        for _ in range(ACCOUNT_LOCK_AFTER):
            assert post_login(stranger, alice, "guess guess guess") == "/login?error=1"
        assert post_login(stranger, alice, PASSWORD) == "/login?error=locked"
    assert post_login(api, alice, PASSWORD) == "/board"  # Alice's own browser is not locked out ...
    with TestClient(build_api(), base_url="http://testserver") as new_browser:
        assert post_login(new_browser, alice, PASSWORD) == "/login?error=locked"  # ... a browser never used is
    for _ in range(ACCOUNT_LOCK_AFTER):  # and her browser has limits of its own
        assert post_login(api, alice, "mistyped passphrase") == "/login?error=1"
    assert post_login(api, alice, PASSWORD) == "/login?error=locked"


def test_a_known_device_token_is_signed_per_person_and_ends_with_their_password(database) -> None:  # type: ignore[no-untyped-def]
    from pkcrm_app.accounts.identity import known_devices  # new in issue 9: imported here so the older tests still run

    acme = make_org(database, "acme", "1001", {"alice": Role.AGENT, "bob": Role.AGENT})
    with database.session() as db:
        alice, bob = (db.get_one(User, acme.users[name][0]) for name in ("alice", "bob"))
        token = known_devices.issue(db, alice)
        assert known_devices.recognise(db, token, alice) is not None
        assert known_devices.recognise(db, token, bob) is None  # another person's token
        user_id, issued, nonce, _mac = token.split(".")
        assert known_devices.recognise(db, f"{bob.id}.{issued}.{nonce}.{_mac}", bob) is None  # relabelled
        forged = f"{user_id}.{issued}.{nonce}.{'A' * len(_mac)}"
        assert known_devices.recognise(db, forged, alice) is None
        cookie = known_devices.add_to_cookie(known_devices.issue(db, bob), token)
        assert known_devices.recognise(db, cookie, alice) and known_devices.recognise(db, cookie, bob)
        alice.password_hash = hash_password("a brand new passphrase")  # a changed password withdraws the token
        assert known_devices.recognise(db, token, alice) is None


@pytest.fixture
def trusted_proxies(monkeypatch):  # type: ignore[no-untyped-def]
    def trust(count: int) -> None:
        monkeypatch.setenv("PKCRM_TRUSTED_PROXIES", str(count))
        get_settings.cache_clear()

    yield trust
    get_settings.cache_clear()


def test_client_addresses_come_from_proxy_headers_only_behind_trusted_proxies(api, database, trusted_proxies,  # type: ignore[no-untyped-def]
                                                                             no_waiting) -> None:
    def counted_under(*forwarded_for: str) -> str:
        api.post("/auth/login", data={"email": "nobody@acme.test", "password": "wrong password!"},
                 headers=[("x-forwarded-for", value) for value in forwarded_for])
        with database.session() as db:
            return str(db.scalars(select(LoginAttempt.ip_address).order_by(LoginAttempt.id.desc())).first())

    trusted_proxies(0)  # no proxy of ours: whatever the client writes in the header is ignored
    assert counted_under("198.51.100.66") == "testclient"
    trusted_proxies(1)  # one proxy: the address it appended, whatever the client put before it
    assert counted_under("198.51.100.66, 203.0.113.7") == "203.0.113.7"
    trusted_proxies(2)  # two proxies, the second appending its peer in a header of its own
    assert counted_under("198.51.100.66, 203.0.113.7", "10.0.0.2") == "203.0.113.7"
    assert counted_under("10.0.0.2") == "testclient"  # fewer entries than proxies: not through them


def test_every_route_reads_the_client_address_through_the_one_helper() -> None:
    """Only http/deps.py's client_ip reads the connection's peer; every other route asks it."""
    readers = []
    for path in sorted(Path(http_package.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text())
        helpers = {node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == "client_ip"}
        allowed = {id(inner) for helper in helpers for inner in ast.walk(helper)} if path.name == "deps.py" else set()
        readers += [f"{path.name}:{node.lineno}" for node in ast.walk(tree)
                    if isinstance(node, ast.Attribute) and node.attr == "client" and id(node) not in allowed]
    assert readers == []
