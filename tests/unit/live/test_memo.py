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
