"""The bridge's push: each tab this worker serves for the organisation gets the moved counters, all at once and
each under its own lock; tabs closed, served by another worker or signed out are dropped from the channel; tabs
to be sent the same share one delta, computed once and sent as one frame."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from pkcrm_app.live import bridge, channel, hub
from pkcrm_app.live.state import LiveTab


@dataclass
class Socket:
    sid: str
    instance_id: str


@dataclass
class FakeTab:
    _org_id: int
    leads_rev: int = 0
    messages_rev: int = 0
    alerts_rev: int = 0
    imports_rev: int = 0
    templates_rev: int = 0


@dataclass
class FakeApp:
    """The parts of a Reflex app the push uses: this worker's sockets and one state lock per tab."""

    tabs: dict[str, FakeTab]
    token_to_socket: dict[str, Socket]
    instance_id: str = "here"
    held: set[str] = field(default_factory=set)
    most_held: int = 0
    computed: list[str] = field(default_factory=list)  # tokens whose delta was computed
    failed: str = ""
    frames: list[tuple[dict[str, Any], list[str]]] = field(default_factory=list)  # (delta, socket ids)
    fail_first: bool = False  # the first delta computed fails

    @property
    def event_namespace(self) -> Any:
        return self

    @property
    def state_manager(self) -> Any:
        return self

    @property
    def _token_manager(self) -> Any:
        return self

    async def emit(self, event: str, update: Any, to: list[str]) -> None:
        assert event == "event"
        assert {f"t{sid[1:]}" for sid in to} <= self.held, "a frame goes out while its tabs' locks are held"
        self.frames.append((update.delta, sorted(to)))

    @contextlib.asynccontextmanager
    async def modify_state(self, token: Any) -> AsyncIterator[Any]:
        client_token = token.ident
        assert client_token not in self.held, "one tab's lock is taken twice"
        self.held.add(client_token)
        self.most_held = max(self.most_held, len(self.held))
        await asyncio.sleep(0.01)  # recomputing the tab's vars
        app = self

        class Root:
            token = client_token

            async def get_state(self, cls: type) -> FakeTab:
                assert cls is LiveTab
                return app.tabs[client_token]

            async def _get_resolved_delta(self) -> dict[str, Any]:
                await asyncio.sleep(0.01)
                if app.fail_first:
                    app.fail_first = False
                    app.failed = client_token
                    raise RuntimeError("a var failed")
                app.computed.append(client_token)
                tab = app.tabs[client_token]
                return {"tab": {"messages_rev": tab.messages_rev, "leads_rev": tab.leads_rev}}

            def _clean(self) -> None:
                pass

        try:
            yield Root()
        finally:
            self.held.discard(client_token)


@pytest.fixture(autouse=True)
def fresh_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No tabs yet, and the bridge's own refresh (moving counters) whatever app an earlier test installed."""
    monkeypatch.setattr(bridge, "_refresh", bridge._move_counters)
    hub.forget_all()
    yield
    hub.forget_all()
    bridge._app = None


def test_a_change_reaches_every_tab_served_here_at_once_and_drops_the_others() -> None:
    app = FakeApp(tabs={f"t{i}": FakeTab(_org_id=1) for i in range(8)} | {"moved": FakeTab(_org_id=2)},
                  token_to_socket={f"t{i}": Socket(f"s{i}", "here") for i in range(6)}
                  | {"t6": Socket("s6", "another worker"), "moved": Socket("s8", "here")})
    bridge._app = app
    for token in app.tabs:
        hub.join(token, 1)  # t7 has no socket any more; "moved" signed in to organisation 2 since
    asyncio.run(bridge.bump(1, {"messages_rev": {5}}))
    assert [app.tabs[f"t{i}"].messages_rev for i in range(8)] == [1, 1, 1, 1, 1, 1, 0, 0]
    assert app.tabs["moved"].messages_rev == 0
    assert all(tab.leads_rev == 0 for tab in app.tabs.values())  # only the moved counter
    assert app.most_held == 7  # every tab at once (six served and the one that moved on), none waiting for another
    assert sorted(hub.tabs_of(1)) == [f"t{i}" for i in range(6)]
    assert hub.marks_of(1).revs["messages_rev"] == 1 and hub.marks_of(2).revs["messages_rev"] == 0
    assert sorted(sids for _, sids in app.frames) == [[f"s{i}"] for i in range(6)]  # each its own delta


async def _same_for_some(root: Any, moved: tuple[str, ...]) -> str | None:
    """A page whose even tabs are sent the same thing (one view) and odd tabs their own."""
    await bridge._move_counters(root, moved)
    return "board view" if int(root.token[1:]) % 2 == 0 else None


def test_tabs_sent_the_same_share_one_delta_and_one_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    app = FakeApp(tabs={f"t{i}": FakeTab(_org_id=1) for i in range(6)},
                  token_to_socket={f"t{i}": Socket(f"s{i}", "here") for i in range(6)})
    bridge._app = app
    monkeypatch.setattr(bridge, "_refresh", _same_for_some)
    for token in app.tabs:
        hub.join(token, 1)
    asyncio.run(bridge.bump(1, {"messages_rev": {5}}))
    views = [token for token in app.computed if token in ("t0", "t2", "t4")]
    assert len(views) == 1 and sorted(set(app.computed) - set(views)) == ["t1", "t3", "t5"]  # the view's once
    assert sorted(sids for _, sids in app.frames) == [["s0", "s2", "s4"], ["s1"], ["s3"], ["s5"]]
    assert all(delta == {"tab": {"messages_rev": 1, "leads_rev": 0}} for delta, _ in app.frames)
    assert all(tab.messages_rev == 1 for tab in app.tabs.values())  # every tab notes what it was sent


def test_when_the_shared_delta_fails_the_other_tabs_of_its_view_compute_their_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    app = FakeApp(tabs={f"t{i}": FakeTab(_org_id=1) for i in (0, 2, 4)},
                  token_to_socket={f"t{i}": Socket(f"s{i}", "here") for i in (0, 2, 4)}, fail_first=True)
    bridge._app = app
    monkeypatch.setattr(bridge, "_refresh", _same_for_some)
    for token in app.tabs:
        hub.join(token, 1)
    asyncio.run(bridge.bump(1, {"messages_rev": {5}}))
    others = sorted({"t0", "t2", "t4"} - {app.failed})
    assert sorted(app.computed) == others
    assert sorted(sids for _, sids in app.frames) == [["s" + token[1:]] for token in others]


def test_a_tab_joins_one_organisation_at_a_time() -> None:
    hub.join("tab", 1)
    hub.join("tab", 2)
    assert hub.tabs_of(1) == [] and hub.tabs_of(2) == ["tab"]
    hub.leave("tab", only_from=1)  # a late push for the old organisation does not take it off the new one
    assert hub.tabs_of(2) == ["tab"]
    hub.leave("tab")
    assert hub.tabs_of(2) == [] and hub.tab_count() == 0


def test_changes_travel_between_workers_as_plain_json() -> None:
    wire = {"7": {"messages_rev": [3, 4], "leads_rev": None, "not_a_counter": [1]}}
    assert channel.from_wire(json.dumps(wire)) == {7: {"messages_rev": {3, 4}, "leads_rev": None}}
