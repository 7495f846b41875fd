"""The live channel between processes: with Redis, every committed change goes out on one pub/sub channel and
every worker hears it, its own included; without Redis, changes stay in the process that committed them."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from pkcrm_app.live.hub import Changes
from pkcrm_app.live.state import COUNTER_NAMES

log = logging.getLogger(__name__)
CHANNEL = "pkcrm:live"  # messages: {org_id: {counter: [ids] or null}}, one per committed batch


def to_wire(by_org: dict[int, Changes]) -> str:
    return json.dumps({str(org): {counter: None if ids is None else sorted(ids) for counter, ids in changes.items()}
                       for org, changes in by_org.items()})


def from_wire(data: bytes | str) -> dict[int, Changes]:
    """Changes as another process sent them; unknown counters are dropped."""
    raw = json.loads(data)
    return {int(org): {counter: None if ids is None else {int(i) for i in ids}
                       for counter, ids in changes.items() if counter in COUNTER_NAMES}
            for org, changes in raw.items()}


class RedisChannel:
    def __init__(self, url: str) -> None:
        self._redis = aioredis.from_url(url)

    def publish(self, by_org: dict[int, Changes]) -> None:
        """Send without waiting (event loop only); a failure is logged."""
        task = asyncio.ensure_future(self._redis.publish(CHANNEL, to_wire(by_org)))
        task.add_done_callback(_log_failure)

    async def listen(self, deliver: Callable[[dict[int, Changes]], None]) -> None:
        """Hand every message to `deliver`, for ever; a lost connection is listened to again a second later."""
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            deliver(from_wire(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("live channel listener failed; listening again in 1 s")
                await asyncio.sleep(1.0)


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("live change not published: %s", task.exception())
