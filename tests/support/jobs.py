"""The job runner during a test, as the app's lifespan task runs it (a route queues, the runner does the work)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from pkcrm_app.core.db import Database
from pkcrm_app.jobs.kinds import JobKind
from pkcrm_app.jobs.runner import Runner


@contextmanager
def running_jobs(database: Database, kinds: Sequence[JobKind]) -> Iterator[Runner]:
    runner = Runner(database, kinds)
    runner.start()
    try:
        yield runner
    finally:
        runner.stop()
