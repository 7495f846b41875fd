"""Operator commands: migrate, seed the demo, run the customer simulator, run the job worker, rotate keys, verify
the audit log."""

from __future__ import annotations

import argparse
import sys
import threading

from sqlalchemy import select

from pkcrm_app.core.db import get_database
from pkcrm_app.core.logging import configure_logging
from pkcrm_app.core.migrate import upgrade_to_head
from pkcrm_app.flows import registry
from pkcrm_app.jobs.kinds import JobKind
from pkcrm_app.settings import get_settings


def _bar(done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    sys.stdout.write(f"\r  seeding demo [{'#' * filled}{'.' * (width - filled)}] {done}/{total} contacts")
    sys.stdout.flush()
    if done >= total:
        sys.stdout.write("\n")


def cmd_migrate(_args: argparse.Namespace) -> None:
    from pkcrm_app.storage.reseal import queue_reseal

    upgrade_to_head()
    database = get_database()
    key_id = database.keyring.ensure_active_key()
    with database.session() as db:  # files stored before key scopes: sealed again with their organisation's key
        queue_reseal(db, again=False)
    print(f"database at head; active data key {key_id[:8]}…")


def cmd_seed_demo(args: argparse.Namespace) -> None:
    from pkcrm_app.dev.demo import seed_demo

    with get_database().session() as db:
        result = seed_demo(db, contacts=args.contacts, progress=_bar)
    print("demo organisation", "created" if result.created else "already present", f"(id {result.org_id})")
    print("demo logins:")
    for email, password, role in result.logins:
        print(f"  {role:<8} {email}  /  {password}")


def cmd_simulate(args: argparse.Namespace) -> None:
    from pkcrm_app.channels.whatsapp.models import WhatsAppNumber
    from pkcrm_app.crm.models import Contact
    from pkcrm_app.dev.customer_simulator import Customer, run

    with get_database().session() as db:
        number = db.scalar(select(WhatsAppNumber).where(WhatsAppNumber.phone_number_id == args.phone_number_id))
        if number is None:
            sys.exit(f"no WhatsApp number {args.phone_number_id} is connected; `make run` seeds the demo one")
        customers = [Customer(c.wa_id, c.name) for c in db.scalars(
            select(Contact).where(Contact.org_id == number.org_id).order_by(Contact.id).limit(50))]
        secret = number.app_secret
    landed = run(url=args.url, phone_number_id=args.phone_number_id, app_secret=secret, customers=customers,
                 count=args.count, interval=args.interval)
    print(f"{landed}/{args.count} messages accepted by {args.url}")


def _work(kinds: list[JobKind], once: bool) -> None:
    from pkcrm_app.jobs.runner import Runner

    runner = Runner(get_database(), kinds)
    names = ", ".join(kind.name for kind in kinds)
    if once:
        runner.drain()
        print(f"no work left ({names})", flush=True)
        return
    print(f"job worker running: {names} (Ctrl-C to stop)", flush=True)
    runner.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        runner.stop()


def cmd_worker(args: argparse.Namespace) -> None:
    try:
        kinds = [registry.job_kind(name) for name in args.kind] if args.kind else list(registry.JOB_KINDS)
    except KeyError as exc:
        sys.exit(str(exc.args[0]))
    _work(kinds, args.once)


def cmd_send_outbox(args: argparse.Namespace) -> None:
    """The worker for the outbox kind alone, with the sender's batch and rate share."""
    from pkcrm_app.inbox.outbox.sender import outbox_kind

    _work([outbox_kind(batch=args.batch, rate_share=args.rate_share)], args.once)


def cmd_reseal_blobs(_args: argparse.Namespace) -> None:
    from pkcrm_app.storage.reseal import queue_reseal

    with get_database().session() as db:
        job_id = queue_reseal(db).id
    print(f"queued job {job_id}: a worker (or the app) seals every file again with its organisation's key")


def cmd_cloud_simulator(args: argparse.Namespace) -> None:
    from pkcrm_app.dev.cloud_simulator.serve import serve

    serve(get_database(), host=args.host, port=args.port, webhook=args.webhook, rate_per_second=args.rate)


def cmd_rotate_data_key(_args: argparse.Namespace) -> None:
    print("new active data key", get_database().keyring.rotate_data_key()[:8] + "…")


def cmd_rewrap_keys(_args: argparse.Namespace) -> None:
    print(f"re-wrapped {get_database().keyring.rewrap_all()} data keys under the active master key")


def cmd_verify_audit(args: argparse.Namespace) -> None:
    from pkcrm_app.audit.service import chain_org_ids, verify_chain

    altered = False
    with get_database().session() as db:
        org_ids = [args.org] if args.org is not None else chain_org_ids(db)
        if not org_ids:
            print("audit log: no entries")
        for org_id in org_ids:
            report = verify_chain(db, org_id)
            print(report.summary(), flush=True)
            altered = altered or not report.ok
    if altered:
        sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    from pkcrm_app.dev.demo import DEMO_PHONE_NUMBER_ID

    parser = argparse.ArgumentParser(prog="python -m pkcrm_app.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="upgrade the database to the newest schema").set_defaults(func=cmd_migrate)
    seed = sub.add_parser("seed-demo", help="create the demo organisation (idempotent)")
    seed.add_argument("--contacts", type=int, default=200)
    seed.set_defaults(func=cmd_seed_demo)
    sim = sub.add_parser("simulate", help="send signed customer messages to a running app")
    sim.add_argument("--url", default="http://127.0.0.1:3000/webhooks/whatsapp")
    sim.add_argument("--phone-number-id", default=DEMO_PHONE_NUMBER_ID)
    sim.add_argument("--count", type=int, default=20)
    sim.add_argument("--interval", type=float, default=3.0)
    sim.set_defaults(func=cmd_simulate)
    worker = sub.add_parser("worker", help="run the job runner on its own: every kind, or those named")
    worker.add_argument("--kind", action="append", help="a job kind (repeatable), e.g. inbox.outbox")
    worker.add_argument("--once", action="store_true", help="stop when no work of these kinds is left")
    worker.set_defaults(func=cmd_worker)
    outbox = sub.add_parser("send-outbox", help="deliver queued WhatsApp messages (`worker --kind inbox.outbox`)")
    outbox.add_argument("--once", action="store_true", help="stop when every queued message is finished")
    outbox.add_argument("--batch", type=int, default=50)
    outbox.add_argument("--rate-share", type=int, default=1, help="workers sharing each number's rate limit")
    outbox.set_defaults(func=cmd_send_outbox)
    cloud = sub.add_parser("cloud-simulator", help="run a local WhatsApp Cloud API for the connected numbers")
    cloud.add_argument("--host", default="127.0.0.1")
    cloud.add_argument("--port", type=int, default=8765)
    cloud.add_argument("--webhook", default="http://127.0.0.1:3000/webhooks/whatsapp")
    cloud.add_argument("--rate", type=float, default=80.0, help="messages/s per number before 130429 (0: off)")
    cloud.set_defaults(func=cmd_cloud_simulator)
    sub.add_parser("reseal-blobs", help="queue sealing every file again with its organisation's key").set_defaults(
        func=cmd_reseal_blobs)
    sub.add_parser("rotate-data-key", help="start a new data key").set_defaults(func=cmd_rotate_data_key)
    sub.add_parser("rewrap-keys", help="re-wrap data keys under the first master key").set_defaults(
        func=cmd_rewrap_keys)
    verify = sub.add_parser("verify-audit", help="recompute the audit log's hash chains; exit 1 if one was altered")
    verify.add_argument("--org", type=int, help="only this organisation's chain (default: every chain)")
    verify.set_defaults(func=cmd_verify_audit)
    args = parser.parse_args(argv)
    configure_logging(get_settings().log_level)
    registry.install()
    args.func(args)


if __name__ == "__main__":
    main()
