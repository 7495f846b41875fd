"""The job runner's claim/lease mechanism on SQLite and PostgreSQL: one owner per row, leases that a heartbeat
keeps alive and that run out when a worker dies, back-off after an unexpected failure, progress on the row."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from pkcrm_app.core.db import Database, utcnow
from pkcrm_app.jobs.kinds import JobKind
from pkcrm_app.jobs.lease import Heartbeat, claim, release
from pkcrm_app.jobs.models import Job, JobState
from pkcrm_app.jobs.runner import Runner, nudge, run_round
from pkcrm_app.jobs.table import enqueue, finish, job_queue, record_progress

KIND = "test.counting"
QUEUE = job_queue(KIND)
LEASE = timedelta(seconds=30)


def queue_jobs(database: Database, count: int) -> list[int]:
    with database.session() as db:
        return [enqueue(db, kind=KIND, key=f"{KIND}:{i}").id for i in range(count)]


def row(database: Database, job_id: int) -> Job:
    with database.session() as db:
        job = db.get_one(Job, job_id)
        db.expunge(job)
        return job


class Counting:
    """A worker that records what it ran, finishes each job, and fails on the ids it is told to."""

    def __init__(self, database: Database, owner: str = "counting", fail: frozenset[int] = frozenset()) -> None:
        self.database, self.owner, self.lease, self.fail = database, owner, LEASE, fail
        self.ran: list[int] = []
        self.recovered = 0

    def recover(self) -> int:
        self.recovered += 1
        return 0

    def run(self, key: Any) -> None:
        self.ran.append(int(key))
        if int(key) in self.fail:
            raise RuntimeError("unexpected")
        record_progress(self.database, int(key), done=1, total=1)
        finish(self.database, int(key))

    def pending(self) -> int:
        with self.database.session() as db:
            return len(db.scalars(select(Job.id).where(Job.state.in_([JobState.QUEUED, JobState.RUNNING]))).all())

    def close(self) -> None:
        pass


def test_queuing_the_same_key_twice_queues_one_job(database) -> None:  # type: ignore[no-untyped-def]
    with database.session() as db:
        first = enqueue(db, kind=KIND, key="once").id
        assert enqueue(db, kind=KIND, key="once").id == first
    assert len(claim(database, QUEUE, "a", limit=10, lease=LEASE)) == 1


def test_a_claimed_row_has_one_owner_until_its_lease_runs_out(database) -> None:  # type: ignore[no-untyped-def]
    [job_id] = queue_jobs(database, 1)
    assert claim(database, QUEUE, "a", limit=10, lease=LEASE) == [job_id]
    assert claim(database, QUEUE, "b", limit=10, lease=LEASE) == []  # a holds it
    held = row(database, job_id)
    assert (held.state, held.lease_owner, held.attempts) == (JobState.RUNNING, "a", 1)
    with database.session() as db:  # a died: its heartbeat stopped and the lease ran out
        db.execute(update(Job).values(lease_until=utcnow() - timedelta(seconds=1)))
    assert claim(database, QUEUE, "b", limit=10, lease=LEASE) == [job_id]
    assert (row(database, job_id).lease_owner, row(database, job_id).attempts) == ("b", 2)
    release(database, QUEUE, "a", [job_id])  # a late release by the old owner changes nothing
    assert row(database, job_id).lease_owner == "b"


def test_concurrent_workers_never_claim_the_same_row(database) -> None:  # type: ignore[no-untyped-def]
    """SKIP LOCKED on PostgreSQL, one conditional UPDATE on SQLite: 4 workers, 40 rows, each row once."""
    ids = queue_jobs(database, 40)
    claimed: dict[str, list[int]] = {}
    start = threading.Barrier(4)

    def work(owner: str) -> None:
        start.wait()
        mine: list[int] = []
        while got := claim(database, QUEUE, owner, limit=3, lease=LEASE):
            mine += got
        claimed[owner] = mine

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [job_id for mine in claimed.values() for job_id in mine]
    assert sorted(every) == sorted(ids)  # all of them, none twice


def test_the_heartbeat_keeps_a_lease_alive_while_work_runs(database) -> None:  # type: ignore[no-untyped-def]
    [job_id] = queue_jobs(database, 1)
    short = timedelta(seconds=0.6)
    claim(database, QUEUE, "a", limit=1, lease=short)
    with Heartbeat(database, QUEUE, "a", [job_id], short):
        time.sleep(1.5)  # more than twice the lease
        assert row(database, job_id).lease_until > utcnow()  # type: ignore[operator]
        assert claim(database, QUEUE, "b", limit=1, lease=LEASE) == []
    time.sleep(0.8)  # the beat stopped (as when a worker dies): the lease runs out
    assert claim(database, QUEUE, "b", limit=1, lease=LEASE) == [job_id]


def test_an_unexpected_failure_backs_off_and_the_others_run(database) -> None:  # type: ignore[no-untyped-def]
    first, second = queue_jobs(database, 2)
    worker = Counting(database, fail=frozenset({first}))
    assert run_round(database, QUEUE, worker, batch=10) == 2
    assert worker.ran == [first, second]
    failed, done = row(database, first), row(database, second)
    assert (done.state, done.done, done.total, done.lease_owner) == (JobState.DONE, 1, 1, None)
    assert failed.state == JobState.RUNNING and failed.lease_owner is None
    assert failed.lease_until is not None and failed.lease_until > utcnow()  # waits out its back-off
    assert run_round(database, QUEUE, worker, batch=10) == 0
    with database.session() as db:  # the back-off has passed
        db.execute(update(Job).where(Job.id == first).values(lease_until=utcnow()))
    worker.fail = frozenset()
    assert run_round(database, QUEUE, worker, batch=10) == 1
    assert (row(database, first).state, row(database, first).attempts) == (JobState.DONE, 2)


def test_the_runner_runs_queued_work_when_nudged_and_stops_cleanly(database) -> None:  # type: ignore[no-untyped-def]
    workers: list[Counting] = []

    def start(db: Database) -> Counting:
        workers.append(Counting(db, owner=f"runner-{len(workers)}"))
        return workers[-1]

    runner = Runner(database, [JobKind(name=KIND, queue=QUEUE, start=start, threads=2, idle=30.0)])
    runner.start()
    try:
        time.sleep(0.2)  # both threads looked, found nothing, and wait (30 s) for a nudge
        ids = queue_jobs(database, 5)
        nudge(KIND)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(row(database, i).state != JobState.DONE for i in ids):
            time.sleep(0.05)
        assert all(row(database, i).state == JobState.DONE for i in ids)
    finally:
        runner.stop(timeout=10)
    assert sorted(i for w in workers for i in w.ran) == sorted(ids)


def test_an_idle_runner_looks_often_but_recovers_dead_leases_only_every_few_seconds(  # type: ignore[no-untyped-def]
        database, monkeypatch) -> None:
    monkeypatch.setattr("pkcrm_app.jobs.runner.RECOVER_SECONDS", 0.5)
    workers: list[Counting] = []

    def start(db: Database) -> Counting:
        workers.append(Counting(db))
        return workers[-1]

    runner = Runner(database, [JobKind(name=KIND, queue=QUEUE, start=start, idle=0.02)])
    runner.start()
    time.sleep(1.2)  # dozens of looks
    runner.stop(timeout=10)
    assert workers[0].recovered in (2, 3, 4)  # at the start, then every 0.5 s


def test_drain_returns_once_nothing_is_left(database) -> None:  # type: ignore[no-untyped-def]
    ids = queue_jobs(database, 3)
    Runner(database, [JobKind(name=KIND, queue=QUEUE, start=Counting, batch=2)]).drain()
    assert {row(database, i).state for i in ids} == {JobState.DONE}
