"""The re-seal job: every blob sealed with another key than its organisation's active one (the legacy
database-wide key of files stored before key scopes, or a retired key) is sealed again with it.

Resumable by construction: a blob already under the right key is skipped, so a run cut short (a restart, a
lease taken over) simply walks again; its progress (`done` of `total`) is on its `job` row."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pkcrm_app.core.db import Database
from pkcrm_app.jobs.kinds import JobKind, worker_name
from pkcrm_app.jobs.models import Job, JobState
from pkcrm_app.jobs.table import enqueue, finish, job_queue, record_progress
from pkcrm_app.storage.store import BlobScope, blob_store

log = logging.getLogger(__name__)
KIND = "storage.reseal_blobs"
PROGRESS_EVERY = 100


def queue_reseal(db: Session, *, again: bool = True) -> Job:
    """Queue the re-seal of every organisation's blobs (one job for the installation)."""
    return enqueue(db, kind=KIND, key=KIND, again=again)


class ResealWorker:
    def __init__(self, database: Database, scopes: Sequence[BlobScope]) -> None:
        self.database, self.scopes = database, tuple(scopes)
        self.owner, self.lease = worker_name(), timedelta(minutes=2)

    def recover(self) -> int:
        return 0  # a job whose lease ran out is claimed again as it is (`running` is ready once free)

    def run(self, key: object) -> None:
        job_id = int(key)  # type: ignore[call-overload]
        store = blob_store(self.database.keyring)
        names = [name for scope in self.scopes for name in store.names(scope)]
        resealed = failed = 0
        for done, name in enumerate(names, start=1):
            try:
                resealed += store.reseal(name)
            except Exception:  # one unreadable file must not hold back the others; the job names the count
                log.exception("blob %s/%s/%s could not be re-sealed", name.scope, name.org_id, name.key)
                failed += 1
            if done % PROGRESS_EVERY == 0:
                record_progress(self.database, job_id, done=done, total=len(names))
        record_progress(self.database, job_id, done=len(names), total=len(names))
        log.info("re-sealed %d of %d blobs", resealed, len(names))
        finish(self.database, job_id, error=f"{failed} files could not be re-sealed (see the log)" if failed else "")

    def pending(self) -> int:
        with self.database.session() as db:
            return int(db.scalar(select(func.count()).select_from(Job).where(
                Job.kind == KIND, Job.state.in_([JobState.QUEUED, JobState.RUNNING]))) or 0)

    def close(self) -> None:
        pass


def reseal_kind(scopes: Sequence[BlobScope]) -> JobKind:
    """The kind, over the blob scopes the registry names."""
    return JobKind(name=KIND, queue=job_queue(KIND), start=lambda database: ResealWorker(database, scopes), idle=5.0)
