"""WhatsApp background tasks of the web app: the outbox sender (the `send-outbox` command runs it
standalone) and the retry of media downloads left pending (by a restart or a long back-off)."""

from __future__ import annotations

import asyncio
import logging
import threading

from pkcrm_app.core.db import get_database
from pkcrm_app.inbox.media import downloads as media_jobs
from pkcrm_app.inbox.outbox.sender import Sender
from pkcrm_app.settings import get_settings

log = logging.getLogger("pkcrm.outbox")


async def run_in_app() -> None:
    """Deliver the outbox until the app stops; off with PKCRM_OUTBOX_IN_APP=0 (e.g. dedicated sender processes)."""
    if not get_settings().outbox_in_app:
        return
    stop = threading.Event()
    sender = Sender(get_database())
    log.info("outbox sender started in the app (%s)", sender.owner)
    try:
        await asyncio.to_thread(sender.run_forever, stop)
    finally:  # cancelled at shutdown: let the thread finish its current send and stop
        stop.set()


MEDIA_RETRY_INTERVAL = 30.0  # seconds between looks for media downloads that are due again


async def retry_media_in_app() -> None:
    """Every half minute, one more attempt for each inbound media download whose time has come."""
    while True:
        await asyncio.sleep(MEDIA_RETRY_INTERVAL)
        try:
            done = await asyncio.to_thread(media_jobs.retry_due, get_database())
        except Exception:  # a broken round must not end the loop; the next one tries again
            log.exception("media download retry round failed")
            continue
        if done:
            log.info("retried %d pending media download(s)", done)
