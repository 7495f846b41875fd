"""The view cache: tabs recomputed at once share one read of the same view; a change a view watches reads again."""

from __future__ import annotations

import asyncio
import threading
import time

from pkcrm_app.live.hub import OrgMarks
from pkcrm_app.live.memo import LiveMemo


def test_a_hundred_tabs_recomputed_at_once_cost_one_read_and_a_change_one_more() -> None:
    reads = []
    gate = threading.Event()

    def load() -> str:
        gate.wait(5)
        reads.append(1)
        return f"board {len(reads)}"

    memo: LiveMemo[str, str] = LiveMemo(lambda _v: {"leads_rev": None})
    marks = OrgMarks()

    async def scenario() -> list[str]:
        tabs = [asyncio.ensure_future(memo.read("acme managers", marks, load)) for _ in range(100)]
        await asyncio.sleep(0.05)
        gate.set()
        first = await asyncio.gather(*tabs)
        marks.record({"messages_rev": {1}})  # a counter the view does not watch
        again = await memo.read("acme managers", marks, load)
        marks.record({"leads_rev": {7}})
        return [*first, again, await memo.read("acme managers", marks, load)]

    shown = asyncio.run(scenario())
    assert shown[:101] == ["board 1"] * 101 and shown[101] == "board 2" and len(reads) == 2


def test_a_tab_that_leaves_mid_read_does_not_fail_the_tabs_sharing_it() -> None:
    memo: LiveMemo[str, str] = LiveMemo(lambda _v: {"leads_rev": None})
    marks = OrgMarks()
    gate = threading.Event()

    def slow() -> str:
        gate.wait(5)
        return "board"

    async def scenario() -> str:
        leader = asyncio.ensure_future(memo.read("view", marks, slow))
        await asyncio.sleep(0.02)
        follower = asyncio.ensure_future(memo.read("view", marks, slow))
        await asyncio.sleep(0.02)
        leader.cancel()  # its tab's socket went away
        await asyncio.sleep(0.02)
        gate.set()
        return await follower

    assert asyncio.run(scenario()) == "board"


def test_a_push_reads_again_only_the_stale_views_of_its_organisation_that_tabs_use(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Primed before any tab's lock is taken: the tabs then find their views read."""
    reads: list[str] = []

    def loader(name: str):  # type: ignore[no-untyped-def]
        def load() -> str:
            reads.append(name)
            return f"{name} {reads.count(name)}"
        return load

    memo: LiveMemo[str, str] = LiveMemo(lambda value: {"leads_rev": None} if "board" in value else {"alerts_rev": None},
                                        max_age=300.0)
    acme, other = OrgMarks(), OrgMarks()

    async def scenario() -> list[str]:
        clock = time.monotonic()
        monkeypatch.setattr(time, "monotonic", lambda: clock - 400.0)
        await memo.read("old board", acme, loader("old board"))  # no tab has read it for 400 s
        monkeypatch.setattr(time, "monotonic", lambda: clock)
        for name, marks in (("acme board", acme), ("acme alerts", acme), ("other board", other)):
            await memo.read(name, marks, loader(name))
        reads.clear()
        acme.record({"leads_rev": {1}})
        other.record({"leads_rev": {1}})
        assert await memo.prime(acme) == 1
        return [await memo.read("acme board", acme, loader("acme board")),
                await memo.read("acme alerts", acme, loader("acme alerts"))]

    assert asyncio.run(scenario()) == ["acme board 1", "acme alerts 1"]  # read again by the push; still fresh
    assert reads == ["acme board"]  # once, by the push; not the alerts (not stale), nor another organisation's
