"""The bridge's push: each tab this worker serves for the organisation gets the moved counters, all at once and
each under its own lock; tabs closed, served by another worker or signed out are dropped from the channel."""

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

    @property
    def event_namespace(self) -> Any:
        return self

    @property
    def _token_manager(self) -> Any:
        return self

    @contextlib.asynccontextmanager
    async def modify_state(self, token: Any) -> AsyncIterator[Any]:
        client_token = token.ident
        assert client_token not in self.held, "one tab's lock is taken twice"
        self.held.add(client_token)
        self.most_held = max(self.most_held, len(self.held))
        await asyncio.sleep(0.01)  # recomputing the tab's vars
        app = self

        class Root:
            async def get_state(self, cls: type) -> FakeTab:
                assert cls is LiveTab
                return app.tabs[client_token]

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
