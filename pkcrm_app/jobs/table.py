"""Queuing, progress and outcome of rows in the `job` table (kinds without a table of their own)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from pkcrm_app.core.base import utcnow
from pkcrm_app.core.db import Database
from pkcrm_app.jobs.lease import LeaseQueue
from pkcrm_app.jobs.models import Job, JobState


def job_queue(kind: str) -> LeaseQueue:
    """The rows of `job` of one kind: queued ones when due, running ones whose worker died (lease run out)."""

    def ready(due_by: object) -> ColumnElement[bool]:
        return (Job.kind == kind) & Job.state.in_([JobState.QUEUED, JobState.RUNNING]) & (Job.run_after <= due_by)

    return LeaseQueue(model=Job, ready=ready, order=("run_after", "id"),
                      on_claim=lambda _now: {"state": JobState.RUNNING})


def enqueue(db: Session, *, kind: str, key: str, org_id: int | None = None, again: bool = True) -> Job:
    """Queue a job once per key: a queued or running one is left alone, a finished one is queued again
    (unless `again` is False: then a key that ever ran is not queued a second time)."""
    job = db.scalar(select(Job).where(Job.key == key))
    if job is None:
        job = Job(kind=kind, key=key, org_id=org_id, state=JobState.QUEUED, attempts=0, run_after=utcnow(),
                  done=0, total=0, error="", created_at=utcnow())
        db.add(job)
    elif again and job.state in (JobState.DONE, JobState.FAILED):
        job.state, job.run_after, job.done, job.total, job.error, job.finished_at = (
            JobState.QUEUED, utcnow(), 0, 0, "", None)
    db.flush()
    return job


def record_progress(database: Database, job_id: int, *, done: int, total: int) -> None:
    with database.engine.begin() as conn:
        conn.execute(update(Job).where(Job.id == job_id).values(done=done, total=total))


def finish(database: Database, job_id: int, *, error: str = "") -> None:
    with database.engine.begin() as conn:
        conn.execute(update(Job).where(Job.id == job_id).values(
            state=JobState.FAILED if error else JobState.DONE, error=error[:500], finished_at=utcnow()))
