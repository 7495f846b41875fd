"""The audit log is append-only and tamper-evident: one hash chain per organisation that an auditor can verify."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from pkcrm_app.accounts.identity.service import create_organisation
from pkcrm_app.audit.chain import GENESIS_HASH
from pkcrm_app.audit.models import AuditEvent, AuditLogIsAppendOnly
from pkcrm_app.audit.service import Mismatch, acting_from, record, verify_chain
from pkcrm_app.cli import main


def make_orgs(database, *slugs: str) -> list[int]:  # type: ignore[no-untyped-def]
    with database.session() as db:
        return [create_organisation(db, name=slug.title(), slug=slug).id for slug in slugs]


def log(database, org_id: int | None, count: int) -> list[int]:  # type: ignore[no-untyped-def]
    """`count` events in `org_id`'s chain, each committed on its own like real actions; their ids."""
    ids = []
    for n in range(count):
        with database.session() as db:
            event = record(db, action="lead.moved", org_id=org_id, target_type="lead", target_id=n,
                           details={"from": n, "to": n + 1}, ip_address="203.0.113.7", device="Firefox 140 / Linux")
            db.flush()
            ids.append(event.id)
    return ids


def chain_of(database, org_id: int | None) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    with database.session() as db:
        return list(db.scalars(
            select(AuditEvent).where(AuditEvent.org_id.is_not_distinct_from(org_id)).order_by(AuditEvent.id)))


def tamper(database, sql: str, **params: object) -> None:  # type: ignore[no-untyped-def]
    """Raw SQL as an attacker with database access would run it: the append-only triggers switched off."""
    with database.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            conn.execute(text("DROP TRIGGER audit_event_no_update"))
            conn.execute(text("DROP TRIGGER audit_event_no_delete"))
        conn.execute(text(sql), params)


def verify(database, org_id: int | None):  # type: ignore[no-untyped-def]
    with database.session() as db:
        return verify_chain(db, org_id)


def test_each_organisation_has_its_own_intact_chain(database) -> None:
    acme, globex = make_orgs(database, "acme", "globex")
    log(database, acme, 2)
    log(database, globex, 2)
    log(database, None, 1)  # e.g. a failed login of an unknown email
    log(database, acme, 1)

    for org_id, length in ((acme, 3), (globex, 2), (None, 1)):
        chain = chain_of(database, org_id)
        assert [e.prev_hash for e in chain] == [GENESIS_HASH] + [e.entry_hash for e in chain[:-1]]
        assert len(chain) == length and len({e.entry_hash for e in chain}) == length
        report = verify(database, org_id)
        assert report.ok and report.intact_entries == length and report.head_hash == chain[-1].entry_hash
    assert chain_of(database, acme)[0].device == "Firefox 140 / Linux"


def test_edited_details_are_reported_at_that_entry(database) -> None:
    (acme,) = make_orgs(database, "acme")
    ids = log(database, acme, 4)
    tamper(database, "UPDATE audit_event SET details = :d WHERE id = :id", d='{"from": 0, "to": 9}', id=ids[1])

    report = verify(database, acme)
    assert (report.ok, report.altered_entry_id, report.mismatch, report.intact_entries) == (
        False, ids[1], Mismatch.ENTRY_HASH, 1)


def test_a_deleted_entry_breaks_the_link_of_the_next(database) -> None:
    (acme,) = make_orgs(database, "acme")
    ids = log(database, acme, 3)
    tamper(database, "DELETE FROM audit_event WHERE id = :id", id=ids[1])

    report = verify(database, acme)
    assert (report.altered_entry_id, report.mismatch, report.previous_entry_id) == (ids[2], Mismatch.PREV_LINK, ids[0])


def test_the_orm_refuses_to_update_or_delete_entries(database) -> None:
    (acme,) = make_orgs(database, "acme")
    (event_id,) = log(database, acme, 1)
    with database.session() as db:
        event = db.get_one(AuditEvent, event_id)
        event.details = {"from": 0, "to": 9}
        with pytest.raises(AuditLogIsAppendOnly, match=f"update entry {event_id}"):
            db.flush()
        db.rollback()
        db.delete(db.get_one(AuditEvent, event_id))
        with pytest.raises(AuditLogIsAppendOnly, match=f"delete entry {event_id}"):
            db.flush()
        db.rollback()
        with pytest.raises(AuditLogIsAppendOnly, match="bulk update"):
            db.execute(update(AuditEvent).values(ip_address="10.0.0.1"))
    assert verify(database, acme).ok


def test_the_database_refuses_plain_sql_updates_and_deletes(database) -> None:
    (acme,) = make_orgs(database, "acme")
    log(database, acme, 2)
    for sql in ("UPDATE audit_event SET ip_address = '10.0.0.1'", "DELETE FROM audit_event"):
        with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as conn:
            conn.execute(text(sql))
    assert verify(database, acme).intact_entries == 2


def test_concurrent_appends_keep_one_unbroken_chain(database) -> None:
    (acme,) = make_orgs(database, "acme")
    threads = [threading.Thread(target=log, args=(database, acme, 10)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    report = verify(database, acme)
    assert report.ok and report.intact_entries == 60


def test_verify_audit_command_names_the_altered_entry(database, capsys) -> None:
    acme, globex = make_orgs(database, "acme", "globex")
    ids = log(database, acme, 3)
    log(database, globex, 1)
    main(["verify-audit"])
    assert [line.split(", head ")[0] for line in capsys.readouterr().out.splitlines()] == [
        f"organisation {acme}: intact, 3 entries", f"organisation {globex}: intact, 1 entry"]

    tamper(database, "UPDATE audit_event SET action = 'login.succeeded' WHERE id = :id", id=ids[2])
    with pytest.raises(SystemExit) as exit_:
        main(["verify-audit", "--org", str(acme)])
    assert exit_.value.code != 0
    assert f"organisation {acme}: ALTERED at entry {ids[2]}" in capsys.readouterr().out


def test_entries_name_the_acting_client_when_the_caller_does_not(database) -> None:  # type: ignore[no-untyped-def]
    with database.session() as db, acting_from("203.0.113.5", "Firefox 140 on Windows"):
        record(db, action="settings.changed", org_id=None)
        record(db, action="login.failed", org_id=None, ip_address="198.51.100.1", device="curl")
    with database.session() as db:
        events = db.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.ip_address, e.device) for e in events[-2:]] == [("203.0.113.5", "Firefox 140 on Windows"),
                                                               ("198.51.100.1", "curl")]
