"""The tabs of one session reached by a push together ask the database once whether it still lives."""

from __future__ import annotations

import asyncio
import threading

import pytest

from pkcrm_app.live import sessions


def test_tabs_asking_at_once_share_one_read_and_a_session_event_asks_again(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[str] = []
    release = threading.Event()

    def check(session_id: str) -> bool:
        release.wait(5)
        reads.append(session_id)
        sessions._entries[session_id] = (float("inf"), float("inf"))  # fresh for the rest of the test
        return session_id == "alive"

    monkeypatch.setattr(sessions, "check", check)
    sessions.forget_all()

    async def hundred_tabs() -> list[bool]:
        asked = [asyncio.ensure_future(sessions.alive(sid)) for sid in ["alive"] * 100 + ["ended"] * 3]
        await asyncio.sleep(0.05)
        release.set()
        return await asyncio.gather(*asked)

    answers = asyncio.run(hundred_tabs())
    assert answers == [True] * 100 + [False] * 3
    assert sorted(reads) == ["alive", "ended"]  # one read per session, not one per tab
    sessions.forget_all()
    assert asyncio.run(sessions.alive("alive")) and reads.count("alive") == 2
    sessions.forget_all()
