"""One job runner: claim with a lease, heartbeat, back-off, progress in the database, SKIP LOCKED on PostgreSQL.

Why a shared claim/lease mechanism over the tables that already are the jobs, plus a `job` table only for
kinds that have none: an outbox row is written in its message's transaction and carries the send's whole state
(attempts, next attempt, the call-started mark the crash guarantee rests on, the receipt); a media download row
and a chat import row likewise hold the state and progress their pages show. A second `job` row beside each
would be a second truth that must agree with the first, and a second write on the outbox's hot path. So every
queue is a `LeaseQueue` (lease.py: which table, which rows are ready), claimed, kept alive and released by the
same code; kinds with no table of their own (re-sealing blobs; next exports, backups, retention, roll-ups and
timers) queue a row in `job` (models.py), whose `done`/`total` columns are their progress bar.

Kinds are named explicitly in flows/registry.py (`JOB_KINDS`); this package never imports a domain. The
runner (runner.py) runs them as a lifespan task of the app and as `python -m pkcrm_app.cli worker`.
"""
