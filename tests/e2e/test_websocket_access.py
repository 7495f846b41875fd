"""Every Reflex event handler and computed var, driven over a raw websocket the way an attacker would.

The app runs for real (embedded, and Redis with two workers); `tests/support/reflex_ws.py` speaks Reflex's
protocol with any client token, cookie and payload. The matrix is generated: every handler of every state
of the app needs an entry below, or `test_every_handler_and_var_has_an_entry` fails.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import reflex as rx
from sqlalchemy import func, select, text, update

import pkcrm_app.pkcrm_app  # noqa: F401  (registers every state of the app)
from pkcrm_app.accounts.identity.cookies import SESSION_COOKIE
from pkcrm_app.accounts.identity.models import AuthSession, session_id_for
from pkcrm_app.core.authz import Role
from pkcrm_app.core.crypto import MasterKeys
from pkcrm_app.core.db import Database, utcnow
from pkcrm_app.crm.models import Lead, Stage
from pkcrm_app.live.state import LiveTab
from pkcrm_app.ui.pages.board.state import BoardState
from pkcrm_app.ui.pages.members.state import MembersState
from pkcrm_app.ui.pages.settings.state import SettingsState
from pkcrm_app.ui.session import SessionMixin
from tests.conftest import REDIS_TEST_URL, create_pg_database, drop_pg_database, postgres_reachable, redis_reachable
from tests.support.app_server import AppServer
from tests.support.data import PASSWORD, OrgFixture, make_org
from tests.support.reflex_ws import ReflexSocket, event_name, new_client_token
from tests.support.webhooks import change, envelope, post_text, sign, text_message

pytestmark = pytest.mark.e2e
PORT = 3211

# Handlers that need no signed-in tab: the public pages (they only read a link or a code from the URL).
PUBLIC = {"LoginPageState", "SignupPageState", "ForgotPageState", "ResetPageState", "InvitePageState",
          "SignupConfirmState", "VerifyCodeState", "MfaSetupState"}
# Sample arguments by parameter name: every id names the OTHER organisation's row (filled in per test).
ARGUMENTS: dict[str, Any] = {
    "lead_id": "foreign_lead", "stage_id": "foreign_stage", "user_id": "foreign_user", "review_id": 1,
    "alert_id": 1, "invitation_id": 1, "message_id": 1, "number_id": 1, "role": "owner", "active": False,
    "form": {"name": "x", "email": "x@example.test", "role": "owner", "confirm_name": "foreign_org"},
    "answer": {"ok": True}, "handle": "a" * 16, "confirm_name": "foreign_org", "form_id": "x", "value": "x",
    "mode": "text", "delta": 1, "_form": {}, "var_name": "role", "vars": {}, "hashes": [], "allowed": True,
}
# Events that are Reflex's own plumbing, not the app's (the guard sees them like any other).
REFLEX_OWN = {"setvar", "set_is_hydrated", "hydrate_and_load", "hydrate", "update_vars_internal", "on_load_internal",
              "handle_frontend_exception"}


def app_states() -> list[type[rx.State]]:
    found, pending = [], list(rx.State.get_substates())
    while pending:
        cls = pending.pop()
        pending.extend(cls.get_substates())
        if cls.__module__.startswith("pkcrm_app"):
            found.append(cls)
    return sorted(found, key=lambda cls: cls.get_full_name())


def private_handlers() -> list[tuple[type[rx.State], str, dict[str, Any]]]:
    """(state, handler, sample payload) for every handler a signed-in tab uses."""
    out = []
    for cls in app_states():
        if cls.__name__ in PUBLIC or cls is LiveTab:
            continue
        for name, handler in sorted(cls.event_handlers.items()):
            if name in REFLEX_OWN and name != "setvar":
                continue
            params = list(inspect.signature(handler.fn).parameters)[1:]
            out.append((cls, name, {p: ARGUMENTS[p] for p in params}))
    return out


def test_every_handler_and_var_has_an_entry() -> None:
    """A new handler or computed var fails here until the matrix knows how to call it."""
    missing = []
    for cls in app_states():
        for name, handler in cls.event_handlers.items():
            missing += [f"{cls.__name__}.{name}({p})" for p in list(inspect.signature(handler.fn).parameters)[1:]
                        if p not in ARGUMENTS]
        # Computed vars of signed-in pages are covered when their page state is cut off: every one of them
        # must read through the bound session (SessionMixin).
        if (cls.__name__ not in PUBLIC and cls is not LiveTab and cls.computed_vars
                and not issubclass(cls, SessionMixin)):
            missing.append(f"{cls.__name__}: computed vars outside a signed-in page state")
    assert not missing, "handlers without a matrix entry: " + ", ".join(missing)
    assert len(private_handlers()) > 50


@dataclass
class World:
    url: str
    database: Database
    acme: OrgFixture
    globex: OrgFixture
    initech: OrgFixture
    acme_contact: str
    globex_contact: str
    globex_lead: int
    globex_stage: int

    def login(self, email: str) -> str:
        """Sign in over HTTP; returns the Cookie header of the new session."""
        with httpx.Client(base_url=self.url, headers={"Origin": self.url}) as client:
            answer = client.post("/auth/login", data={"email": email, "password": PASSWORD})
            assert answer.status_code in (200, 303), answer.text
            return f"{SESSION_COOKIE}={client.cookies[SESSION_COOKIE]}"

    def session_row(self, cookie: str) -> str:
        return session_id_for(cookie.split("=", 1)[1])

    def step_up(self, cookie: str) -> None:
        with self.database.session() as db:
            db.execute(update(AuthSession).where(AuthSession.id == self.session_row(cookie))
                       .values(mfa_verified_at=utcnow()))
            db.commit()

    def foreign(self) -> dict[str, Any]:
        return {"foreign_lead": self.globex_lead, "foreign_stage": self.globex_stage,
                "foreign_user": self.globex.users["gina"][0], "foreign_org": "Globex"}

    def globex_rows(self) -> str:
        """A fingerprint of Globex's data that no Acme tab may change."""
        tables = ("lead", "contact", "conversation", "message", "membership", "organisation", "stage",
                  "whatsapp_number", "invitation")
        with self.database.session() as db:
            rows = [repr(db.execute(text(f"SELECT * FROM {t} WHERE {'id' if t == 'organisation' else 'org_id'} = :o "
                                         "ORDER BY 1"), {"o": self.globex.org_id}).all()) for t in tables]
        return hashlib.sha256("\n".join(rows).encode()).hexdigest()


@pytest.fixture(scope="module", params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from pkcrm_app.core.migrate import upgrade_to_head
    from tests.support.browser import chromium_missing  # noqa: F401  (same prerequisites as the other e2e tests)

    mode = request.param
    if mode == "redis" and (reason := redis_reachable()):
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp(f"ws-{mode}")
    use_pg = mode == "redis" and postgres_reachable() is None
    url = create_pg_database() if use_pg else f"sqlite:///{tmp / 'ws.db'}"
    base = f"http://127.0.0.1:{PORT}"
    env = {"DATABASE_URL": url, "PKCRM_INSTANCE_DIR": str(tmp), "PKCRM_MASTER_KEY": os.environ["PKCRM_MASTER_KEY"],
           "PKCRM_PUBLIC_URL": base, "PKCRM_OUTBOX_IN_APP": "0"}
    upgrade_to_head(url)
    database = Database(url, MasterKeys.parse(env["PKCRM_MASTER_KEY"]))
    victims = ["v-logout", "v-everywhere", "v-deactivated", "v-role", "v-password", "v-idle", "v-expired",
               "v-nocookie"]
    acme = make_org(database, "acme", "1001", {"olivia": Role.OWNER, "adam": Role.ADMIN, "mark": Role.MANAGER,
                                               "alice": Role.AGENT, **{v: Role.AGENT for v in victims}})
    globex = make_org(database, "globex", "2002", {"gina": Role.OWNER, "bob": Role.AGENT})
    initech = make_org(database, "initech", "3003", {"ivan": Role.OWNER, "ian": Role.AGENT})
    server = None
    try:
        if mode == "redis":
            import redis

            redis.Redis.from_url(REDIS_TEST_URL).flushdb()
            env |= {"REDIS_URL": REDIS_TEST_URL, "GRANIAN_WORKERS": "2"}
        server = AppServer(env, tmp / "app.log", port=PORT).start()
        names = {}
        for org, wa_id in ((acme, "447700900111"), (globex, "447700900222"), (initech, "447700900333")):
            names[org.org_id] = f"Customer {org.org_id} {secrets.token_hex(4)}"
            posted = post_text(base, phone_number_id=org.phone_number_id, app_secret=org.app_secret, wa_id=wa_id,
                               name=names[org.org_id], text=f"hello {secrets.token_hex(4)}")
            assert posted.status_code == 200
        with database.session() as db:
            lead = db.scalars(select(Lead).where(Lead.org_id == globex.org_id)).one()
            stage = db.scalars(select(Stage).where(Stage.org_id == globex.org_id)
                               .order_by(Stage.position.desc())).first()
            assert stage is not None
            yield World(base, database, acme, globex, initech, names[acme.org_id], names[globex.org_id],
                        lead.id, stage.id)
    finally:
        if server is not None:
            server.stop()
            log = tmp / "app.log"
            artifacts = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
            artifacts.mkdir(parents=True, exist_ok=True)
            (artifacts / f"ws-access-{mode}.log").write_bytes(log.read_bytes())
        database.dispose()
        if use_pg:
            drop_pg_database(url)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def board_tab(world: World, cookie: str | None, client_token: str | None = None) -> ReflexSocket:
    tab = await ReflexSocket.open(world.url, cookie=cookie, origin=world.url, client_token=client_token)
    await tab.settle()
    return tab


async def customer_writes(world: World, text: str, *, seen_by: ReflexSocket) -> None:
    """Acme's customer sends a WhatsApp message; wait until a tab that should see it does (at most ~10 s)."""
    post_text(world.url, phone_number_id=world.acme.phone_number_id, app_secret=world.acme.app_secret,
              wa_id="447700900111", name=world.acme_contact, text=text)
    for _ in range(50):
        if text in seen_by.text():
            return
        await seen_by.settle(quiet=0.2)


async def every_handler(tab: ReflexSocket, world: World) -> None:
    """Send every private handler with the other organisation's ids, one after another, then wait."""
    foreign = world.foreign()
    for cls, name, payload in private_handlers():
        filled = {k: foreign.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}
        await tab.emit(event_name(cls, name), filled, path="/board")
    await tab.settle(quiet=1.0, limit=60)


def test_a_socket_without_a_session_reads_and_changes_nothing(world: World) -> None:
    async def scenario() -> None:
        before = world.globex_rows()
        tab = await board_tab(world, cookie=None)
        await every_handler(tab, world)
        leaked = tab.text()
        await tab.close()
        for secret in (world.acme_contact, world.globex_contact, "Acme", "Globex", "olivia@acme.test"):
            assert secret not in leaked
        assert world.globex_rows() == before
        assert "/login" in tab.redirects()

    run(scenario())


@pytest.mark.parametrize("role", ["olivia", "adam", "mark", "alice"])
def test_each_role_reaches_nothing_of_another_organisation(world: World, role: str) -> None:
    async def scenario() -> None:
        before = world.globex_rows()
        tab = await board_tab(world, world.login(world.acme.users[role][1]))
        assert world.acme_contact in tab.text(), "the tab's own board arrived"
        await every_handler(tab, world)
        leaked = tab.text()
        await tab.close()
        assert world.globex_contact not in leaked and "gina@globex.test" not in leaked
        assert world.globex_rows() == before

    run(scenario())


async def _revoke(world: World, kind: str, victim: str, cookie: str) -> None:
    """End the victim's session the way the product does, through the running app."""
    email = world.acme.users[victim][1]
    user_id = world.acme.users[victim][0]
    if kind == "logout":
        with httpx.Client(base_url=world.url, headers={"Origin": world.url, "Cookie": cookie}) as client:
            assert client.post("/auth/logout").status_code in (200, 303)
    elif kind == "sign out everywhere":
        admin = world.login(world.acme.users["adam"][1])
        tab = await ReflexSocket.open(world.url, cookie=admin, origin=world.url, boot_path="/members")
        await tab.settle()
        await tab.call(event_name(MembersState, "sign_out"), {"user_id": user_id}, path="/members")
        await tab.close()
    elif kind in ("deactivation", "role change"):
        admin = world.login(world.acme.users["adam"][1])
        world.step_up(admin)
        tab = await ReflexSocket.open(world.url, cookie=admin, origin=world.url, boot_path="/members")
        await tab.settle()
        if kind == "deactivation":
            await tab.call(event_name(MembersState, "set_active"), {"user_id": user_id, "active": False},
                           path="/members")
        else:
            await tab.call(event_name(MembersState, "change_role"), {"user_id": user_id, "role": "manager"},
                           path="/members")
        await tab.close()
    elif kind == "password change":
        other = world.login(email)
        with httpx.Client(base_url=world.url, headers={"Origin": world.url, "Cookie": other}) as client:
            answer = client.post("/auth/password", data={"current_password": PASSWORD,
                                                         "new_password": "a much newer passphrase 42",
                                                         "new_password_again": "a much newer passphrase 42"})
            assert answer.status_code in (200, 303)
    elif kind == "idle time-out":
        with world.database.session() as db:
            db.execute(update(AuthSession).where(AuthSession.id == world.session_row(cookie))
                       .values(last_seen_at=utcnow() - timedelta(hours=3)))
            db.commit()
        await asyncio.sleep(11)  # past the per-process cache of a session's life (live/sessions.py)
    elif kind == "absolute time-out":
        await asyncio.sleep(6)  # the session was made to expire 5 s after it was opened (see below)
    with world.database.session() as db:
        row = db.get(AuthSession, world.session_row(cookie))
        assert row is None or row.revoked_at is not None or row.expires_at <= utcnow() or \
            row.last_seen_at < utcnow() - timedelta(hours=2)


REVOCATIONS = {"logout": "v-logout", "sign out everywhere": "v-everywhere", "deactivation": "v-deactivated",
               "role change": "v-role", "password change": "v-password", "idle time-out": "v-idle",
               "absolute time-out": "v-expired"}


@pytest.mark.parametrize("kind", list(REVOCATIONS))
def test_a_revoked_tab_gets_nothing_more(world: World, kind: str) -> None:
    victim = REVOCATIONS[kind]

    async def scenario() -> None:
        cookie = world.login(world.acme.users[victim][1])
        if kind == "absolute time-out":
            with world.database.session() as db:
                db.execute(update(AuthSession).where(AuthSession.id == world.session_row(cookie))
                           .values(expires_at=utcnow() + timedelta(seconds=5)))
                db.commit()
        tab = await board_tab(world, cookie)
        colleague = await board_tab(world, world.login(world.acme.users["mark"][1]))
        assert world.acme_contact in tab.text(), "the victim's board arrived before the revocation"
        await _revoke(world, kind, victim, cookie)
        await tab.settle(quiet=1.0)
        cut = len(tab.received)

        # A push after the revocation reaches the colleague, never the revoked tab.
        news = f"news {secrets.token_hex(5)}"
        await customer_writes(world, news, seen_by=colleague)
        assert news in colleague.text()
        await tab.settle(quiet=1.0)
        assert news not in tab.text(cut)
        if kind not in ("idle time-out", "absolute time-out"):  # those end by time; the sweep or next event sees it
            assert tab.var(BoardState, "signed_out") is True, "the open tab was signed out live"

        # Every handler on the revoked socket: nothing of the organisation comes back, it is sent to sign in.
        await every_handler(tab, world)
        assert world.acme_contact not in tab.text(cut) and news not in tab.text(cut)
        assert "/login" in tab.redirects(cut) or tab.closed

        # A new socket without any cookie that reuses the tab's client token (once the tab's socket is gone,
        # or Reflex hands it a new token) reads nothing either.
        await tab.close()
        thief = await board_tab(world, cookie=None, client_token=tab.client_token)
        assert "new_token" not in thief.signals, "the thief really reused the tab's token"
        assert world.acme_contact not in thief.text() and news not in thief.text()
        for sock in (colleague, thief):
            await sock.close()

    run(scenario())


def test_a_cookieless_socket_reusing_a_live_tabs_token_reads_nothing(world: World) -> None:
    async def scenario() -> None:
        cookie = world.login(world.acme.users["v-nocookie"][1])
        tab = await board_tab(world, cookie)
        assert world.acme_contact in tab.text()
        await tab.close()
        thief = await board_tab(world, cookie=None, client_token=tab.client_token)
        assert "new_token" not in thief.signals, "the thief really reused the tab's token"
        await every_handler(thief, world)
        assert world.acme_contact not in thief.text()
        await thief.close()
        # The tab itself, back with its cookie, still reads its board: only the cookieless socket was cut off.
        back = await board_tab(world, cookie, client_token=tab.client_token)
        assert world.acme_contact in back.text()
        await back.close()

    run(scenario())


def test_organisation_deletion_cuts_its_tabs_off(world: World) -> None:
    async def scenario() -> None:
        owner = world.login(world.initech.users["ivan"][1])
        agent_cookie = world.login(world.initech.users["ian"][1])
        agent = await board_tab(world, agent_cookie)
        assert "Customer" in agent.text()
        world.step_up(owner)
        settings = await ReflexSocket.open(world.url, cookie=owner, origin=world.url, boot_path="/settings")
        await settings.settle()
        await settings.call(event_name(SettingsState, "delete_named"), {"confirm_name": "Initech"}, path="/settings")
        await agent.settle(quiet=1.0)
        assert agent.var(BoardState, "signed_out") is True, "the open tab was signed out live"
        cut = len(agent.received)
        await every_handler(agent, world)
        assert "/login" in agent.redirects(cut) and "Customer" not in agent.text(cut)
        await agent.close()
        thief = await board_tab(world, cookie=None, client_token=agent.client_token)
        assert "Initech" not in thief.text() and "Customer" not in thief.text()
        for sock in (settings, thief):
            await sock.close()

    run(scenario())


def test_leaving_a_page_while_it_loads_freezes_neither_the_tab_nor_its_organisation(world: World) -> None:
    """A navigation or a closed tab cancels the page's load; the organisation's live channel must not stay locked.

    Before the fix, a load cancelled while it linked the tab to the organisation kept the organisation's lock:
    the tab's next page never loaded (about half of these rounds), and no tab of the organisation got news. With
    Redis, a lock taken by a cancelled event stayed until it expired: the next page waited 10 s (about one round
    in 24)."""
    async def scenario() -> None:
        cookie = world.login(world.acme.users["alice"][1])
        colleague = await board_tab(world, world.login(world.acme.users["mark"][1]))
        never_loaded = []
        for round_ in range(24):
            token = new_client_token()
            leaving = await ReflexSocket.open(world.url, cookie=cookie, origin=world.url, client_token=token)
            await asyncio.sleep(0.005 * (round_ % 8))  # somewhere in the page's load
            await leaving.connection.close()
            next_page = await ReflexSocket.open(world.url, cookie=cookie, origin=world.url, client_token=token)
            if not await next_page.shows(world.acme_contact, within=5.0):  # a leaked lock: 10 s (Redis) or forever
                never_loaded.append(round_)
            await next_page.close()
        assert never_loaded == [], "the next page of a tab that left mid-load never loaded"
        news = f"after the navigations {secrets.token_hex(4)}"
        await customer_writes(world, news, seen_by=colleague)
        assert news in colleague.text()
        await colleague.close()

    run(scenario())


def test_the_live_channel_cannot_be_joined_from_outside(world: World) -> None:
    """The organisation's channel has no token to connect under (the server joins a tab to it by its session), and
    no socket may connect under a token that is not a tab's own v4 UUID."""
    async def scenario() -> None:
        for token in (f"org-{world.acme.org_id}", f"org-{world.acme.org_id}a", "not-a-uuid", ""):
            with pytest.raises(Exception):  # noqa: B017 (the handshake is refused: websockets raises on 403)
                sock = await ReflexSocket.open(world.url, client_token=token, origin=world.url)
                await sock.settle()
                assert not sock.closed
                await sock.close()
        # A signed-in rival's tab hears nothing of Acme's channel; Acme's tabs still hear it.
        rival = await board_tab(world, world.login(world.globex.users["bob"][1]))
        colleague = await board_tab(world, world.login(world.acme.users["mark"][1]))
        news = f"still live {secrets.token_hex(4)}"
        await customer_writes(world, news, seen_by=colleague)
        assert news in colleague.text() and news not in rival.text()
        for sock in (rival, colleague):
            await sock.close()

    run(scenario())


def test_a_socket_from_another_origin_is_refused(world: World) -> None:
    async def scenario() -> None:
        with pytest.raises(Exception):  # noqa: B017 (the socket server refuses the handshake)
            sock = await ReflexSocket.open(world.url, origin="http://127.0.0.1:9999",
                                           cookie=world.login(world.acme.users["alice"][1]))
            await sock.settle()
            assert not sock.closed
    run(scenario())


# Live fan-out at team size (issue 19) ---------------------------------------------------------------------------

def _delivery(world: World, wa_id: str, name: str, text: str, timestamp: int) -> tuple[bytes, dict[str, str]]:
    contacts = [{"profile": {"name": name}, "wa_id": wa_id}]
    message = text_message("wamid." + secrets.token_hex(12), wa_id, text, timestamp)
    body = json.dumps(envelope(change(world.acme.phone_number_id, contacts=contacts, messages=[message]))).encode()
    return body, {"content-type": "application/json", "x-hub-signature-256": sign(body, world.acme.app_secret)}


def _columns(tab: ReflexSocket) -> list[dict[str, Any]]:
    """The board as the tab shows it now: each column's header with its cards (sent apart, each when it changed)."""
    return [{**head, "cards": tab.var(BoardState, f"cards_{index}")}
            for index, head in enumerate(tab.var(BoardState, "stages"))]


def _cards(tab: ReflexSocket) -> dict[str, list[str]]:
    """Column name -> the card names the tab shows now, top first."""
    return {column["name"]: [card["contact_name"] for card in column["cards"]] for column in _columns(tab)}


def _thread_texts(tab: ReflexSocket, tag: str) -> list[str]:
    return [m["text"] for m in tab.var(BoardState, "thread")["messages"] if tag in m["text"]]


def test_a_burst_reaches_every_tab_in_order_also_tabs_that_reconnect_meanwhile(world: World) -> None:
    """20 tabs; 20 webhooks at once (ten messages of one customer whose conversation half the tabs have open, ten
    new customers) while three tabs drop and reconnect and two are away: every tab ends with every message, in
    order, with the right counts, and a tab back after missing the pushes catches up in one update."""
    async def scenario() -> None:
        tag = secrets.token_hex(3)
        cookies = [world.login(world.acme.users["mark"][1]), world.login(world.acme.users["alice"][1])]
        tabs = [await board_tab(world, cookies[i % 2]) for i in range(20)]
        regular, regular_wa = f"Regular {tag}", f"4477009{secrets.randbelow(10**5):05d}"
        now = int(time.time()) - 100  # the burst's times lie in the past (future times are taken as arrival times)
        async with httpx.AsyncClient(base_url=world.url, timeout=60) as client:
            body, headers = _delivery(world, regular_wa, regular, f"first {tag}", now - 60)
            assert (await client.post("/webhooks/whatsapp", content=body, headers=headers)).status_code == 200
            assert await tabs[0].shows(regular, within=10)
            lead_id = next(card["lead_id"] for column in _columns(tabs[0])
                           for card in column["cards"] if card["contact_name"] == regular)
            for tab in tabs[:10]:
                await tab.emit(event_name(BoardState, "open_lead"), {"lead_id": lead_id})
            await asyncio.gather(*(tab.settle(quiet=0.5) for tab in tabs))
            burst = ([_delivery(world, regular_wa, regular, f"burst {i} {tag}", now + 1 + i) for i in range(10)]
                     + [_delivery(world, f"4477008{secrets.randbelow(10**5):05d}", f"New {i} {tag}", f"hi {tag}",
                                  now + i) for i in range(10)])

            async def reconnect(index: int) -> ReflexSocket:
                await asyncio.sleep(0.02 * index)
                await tabs[index].connection.close()
                return await ReflexSocket.open(world.url, cookie=cookies[index % 2], origin=world.url,
                                               client_token=tabs[index].client_token)

            for away in tabs[18:]:  # these miss the whole burst
                await away.connection.close()
            answers, *reopened = await asyncio.gather(
                asyncio.gather(*(client.post("/webhooks/whatsapp", content=b, headers=h) for b, h in burst)),
                *(reconnect(i) for i in range(15, 18)))  # these drop and rejoin while it is pushed
        assert [a.status_code for a in answers] == [200] * 20
        tabs[15:18] = reopened
        await asyncio.gather(*(tab.settle(quiet=1.5, limit=60) for tab in tabs[:18]))
        tabs[18:] = [await ReflexSocket.open(world.url, cookie=cookies[i % 2], origin=world.url,
                                             client_token=tabs[i].client_token) for i in (18, 19)]
        await asyncio.gather(*(tab.settle(quiet=1.5, limit=60) for tab in tabs[18:]))
        with world.database.session() as db:
            new_stage = db.scalars(select(Stage).where(Stage.org_id == world.acme.org_id)
                                   .order_by(Stage.position)).first()
            assert new_stage is not None
            in_new = db.scalar(select(func.count()).select_from(Lead).where(Lead.stage_id == new_stage.id)) or 0
        newcomers = [f"New {i} {tag}" for i in reversed(range(10))]  # newest message first
        for index, tab in enumerate(tabs):
            shown = _cards(tab)[new_stage.name]
            ours = [regular, *newcomers]  # the regular's last message is the burst's newest
            assert [name for name in shown if name in ours] == ours, f"tab {index}"
            if index % 2 == 0:  # the manager's tabs count every lead of the stage
                column = next(c for c in _columns(tab) if c["name"] == new_stage.name)
                assert column["count"] == in_new, f"tab {index}"
        for index, tab in enumerate(tabs[:10]):
            assert _thread_texts(tab, tag) == [f"first {tag}", *(f"burst {i} {tag}" for i in range(10))], index
        for tab in tabs[18:]:  # back after missing it: the first update with the board has the whole burst
            first = next(u for u in tab.received if BoardState.get_full_name() in json.dumps(u.get("delta") or {}))
            assert all(name in json.dumps(first) for name in newcomers)
        await asyncio.gather(*(tab.close() for tab in tabs))

    run(scenario())


def test_opening_reloading_and_a_tabs_own_clicks_reach_no_other_tab(world: World) -> None:
    """Joining, reloading, show more, load earlier, opening and closing a lead already read: private to the tab."""
    async def scenario() -> None:
        cookie = world.login(world.acme.users["mark"][1])
        watcher, actor = await board_tab(world, cookie), await board_tab(world, cookie)
        lead_id = next(card["lead_id"] for column in _columns(watcher) for card in column["cards"]
                       if card["contact_name"] == world.acme_contact)
        await actor.call(event_name(BoardState, "open_lead"), {"lead_id": lead_id})  # read once: no badge left
        await actor.call(event_name(BoardState, "close_lead"))
        await watcher.settle(quiet=1.0)
        seen = len(watcher.received)
        newcomer = await board_tab(world, cookie)
        for name, payload in (("show_more_cards", {}), ("open_lead", {"lead_id": lead_id}), ("load_earlier", {}),
                              ("close_lead", {})):
            answer = await actor.call(event_name(BoardState, name), payload)
            assert answer, f"{name} answered its own tab"
        await actor.close()
        reloaded = await board_tab(world, cookie, client_token=actor.client_token)
        await watcher.settle(quiet=1.0)
        assert watcher.received[seen:] == [], "another tab's own page loads and clicks reached this one"
        news = f"still live {secrets.token_hex(4)}"
        await customer_writes(world, news, seen_by=watcher)
        assert news in watcher.text()
        for sock in (watcher, newcomer, reloaded):
            await sock.close()

    run(scenario())
