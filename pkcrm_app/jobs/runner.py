"""The runner: per kind, threads that recover, claim a batch, run it under a heartbeat, and give it back.

In the app it is one lifespan task (`run_in_app`); on its own it is `python -m pkcrm_app.cli worker`. Work
queued in this process (an upload, a confirmed import) calls `nudge(kind)` so it starts without waiting for
the next look; a worker in another process finds it on its next look.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence

from pkcrm_app.core.db import Database, get_database
from pkcrm_app.jobs.kinds import JobKind, Worker
from pkcrm_app.jobs.lease import Heartbeat, LeaseQueue, claim, release, release_after_failure

log = logging.getLogger("pkcrm.jobs")
RECOVER_SECONDS = 5.0  # how often a runner thread looks for rows whose lease ran out
_WAKE: dict[str, threading.Event] = {}
_WAKE_LOCK = threading.Lock()


def _wake(kind: str) -> threading.Event:
    with _WAKE_LOCK:
        return _WAKE.setdefault(kind, threading.Event())


def nudge(kind: str) -> None:
    """Work of `kind` was queued: this process's runner looks now rather than at its next poll."""
    _wake(kind).set()


def run_round(database: Database, queue: LeaseQueue, worker: Worker, *, batch: int, recover: bool = True) -> int:
    """Recover (unless told not to), claim up to `batch` rows, run each while a heartbeat keeps the leases;
    returns rows claimed."""
    if recover:
        worker.recover()
    keys = claim(database, queue, worker.owner, limit=batch, lease=worker.lease)
    if not keys:
        return 0
    finished: list[object] = []
    with Heartbeat(database, queue, worker.owner, keys, worker.lease) as beat:
        for key in keys:
            try:
                worker.run(key)
            except Exception:  # one broken row must not stop the others; it is tried again after a back-off
                wait = release_after_failure(database, queue, worker.owner, key)
                log.exception("job %s %s failed; tried again in %.0f s", queue.model.__name__, key, wait)
            else:
                finished.append(key)
            beat.finished(key)
    release(database, queue, worker.owner, finished)
    return len(keys)


class Runner:
    """Runs the given kinds until stopped: `threads` threads per kind, each with its own worker."""

    def __init__(self, database: Database, kinds: Sequence[JobKind]) -> None:
        self.database, self.kinds = database, list(kinds)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for kind in self.kinds:
            for index in range(kind.threads):
                worker = kind.start(self.database)
                thread = threading.Thread(target=self._loop, args=(kind, worker), daemon=True,
                                          name=f"job-{kind.name}-{index}")
                self._threads.append(thread)
                thread.start()
        log.info("job runner started: %s", ", ".join(k.name for k in self.kinds) or "no kinds")

    def _loop(self, kind: JobKind, worker: Worker) -> None:
        wake = _wake(kind.name)
        recovered_at = float("-inf")
        try:
            while not self._stop.is_set():
                try:
                    # Leases last far longer than a look: putting right what dead workers left is done every few
                    # seconds, not on every idle look (each look is a query per kind and thread, all day long).
                    recover = time.monotonic() - recovered_at >= RECOVER_SECONDS
                    busy = run_round(self.database, kind.queue, worker, batch=kind.batch, recover=recover)
                    if recover:
                        recovered_at = time.monotonic()
                except Exception:
                    log.exception("job runner loop of %s failed; retrying", kind.name)
                    busy = 0
                if not busy and wake.wait(kind.idle):
                    wake.clear()
        finally:
            worker.close()

    def stop(self, timeout: float = 30.0) -> None:
        """Let each thread finish the row in hand, then end."""
        self._stop.set()
        for kind in self.kinds:
            _wake(kind.name).set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def drain(self, poll: float = 0.1) -> None:
        """Run in this thread until no kind has unfinished rows (`worker --once`)."""
        workers = [(kind, kind.start(self.database)) for kind in self.kinds]
        try:
            while True:
                if sum(run_round(self.database, kind.queue, worker, batch=kind.batch) for kind, worker in workers):
                    continue
                if not any(worker.pending() for _, worker in workers):
                    return
                time.sleep(poll)
        finally:
            for _, worker in workers:
                worker.close()


async def run_in_app(kinds: Sequence[JobKind]) -> None:
    """Lifespan task: the runner lives as long as the app; at shutdown each thread finishes its row."""
    runner = Runner(get_database(), kinds)
    runner.start()
    try:
        await asyncio.Event().wait()
    finally:
        await asyncio.to_thread(runner.stop)
