"""The view cache: tabs recomputed at once share one read of the same view; a change a view watches reads again."""

from __future__ import annotations

import asyncio
import threading

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


def test_a_push_reads_again_only_the_stale_views_of_its_organisation_that_tabs_still_show() -> None:
    """Primed before any tab's lock is taken: the tabs then find their views read. A view no tab read since the
    last push (its tabs closed or moved on) is not read again."""
    reads: list[str] = []

    def loader(name: str):  # type: ignore[no-untyped-def]
        def load() -> str:
            reads.append(name)
            return f"{name} {reads.count(name)}"
        return load

    memo: LiveMemo[str, str] = LiveMemo(lambda value: {"leads_rev": None} if "board" in value else {"alerts_rev": None})
    acme, other = OrgMarks(), OrgMarks()

    async def scenario() -> list[str]:
        for name, marks in (("acme board", acme), ("acme alerts", acme), ("other board", other), ("old board", acme)):
            await memo.read(name, marks, loader(name))
        acme.record({"leads_rev": {1}})
        other.record({"leads_rev": {1}})
        assert await memo.prime(acme) == 2  # the boards acme's tabs show
        shown = [await memo.read("acme board", acme, loader("acme board")),
                 await memo.read("acme alerts", acme, loader("acme alerts"))]
        acme.record({"leads_rev": {2}})  # meanwhile the tab showing "old board" has closed: nobody read it
        assert await memo.prime(acme) == 1
        return [*shown, await memo.read("acme board", acme, loader("acme board"))]

    assert asyncio.run(scenario()) == ["acme board 2", "acme alerts 1", "acme board 3"]
    assert reads == ["acme board", "acme alerts", "other board", "old board", "acme board", "old board",
                     "acme board"]  # by the pushes only; never the alerts (not stale) nor another organisation's
