"""The outbox sender as a background task of the web app (the `send-outbox` command runs it standalone)."""

from __future__ import annotations

import asyncio
import logging
import threading

from pkcrm_app.core.db import get_database
from pkcrm_app.settings import get_settings
from pkcrm_app.whatsapp.sender import Sender

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
