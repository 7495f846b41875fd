"""A customer's words never reach the database in clear, yet the app reads them back."""

from __future__ import annotations

import secrets
from pathlib import Path

from sqlalchemy import event, select, text
from sqlalchemy.exc import OperationalError

from pkcrm_app.accounts.identity.service import create_organisation
from pkcrm_app.channels.whatsapp.numbers import register_number
from pkcrm_app.core.db import Database
from pkcrm_app.flows.registry import metadata
from pkcrm_app.inbox.models import Conversation, Message
from tests.support.data import make_org
from tests.support.webhooks import change, envelope, post_signed, text_message


def raw_sqlite_bytes(database: Database) -> bytes:
    """Every byte of the database file and its write-ahead log, as a disk thief would read them."""
    path = Path(database.engine.url.database or "")
    wal = path.with_name(path.name + "-wal")
    with database.engine.connect() as conn:  # the WAL first, then the same pages checkpointed into the main file
        chunks = [p.read_bytes() for p in (path, wal) if p.exists()]
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    database.engine.dispose()
    return b"".join([*chunks, path.read_bytes()])


def raw_postgres_text(database: Database) -> str:
    """Every row of every table as PostgreSQL prints it (bytea as hex), read without the ORM."""
    with database.engine.connect() as conn:
        return "\n".join(
            row for table in metadata().sorted_tables
            for row in conn.execute(text(f'SELECT t::text FROM "{table.name}" t')).scalars()
        )


def test_message_body_is_encrypted_on_disk_and_readable_through_the_app(api, database) -> None:
    org = make_org(database, "acme", "1001", {})
    marker = "MARKER-" + secrets.token_hex(8)
    wamid = "wamid.visible-" + secrets.token_hex(4)
    payload = envelope(change(org.phone_number_id, messages=[text_message(wamid, "923001234567", f"pay {marker}")]))
    assert post_signed(api, payload, org.app_secret).status_code == 200

    with database.session() as db:
        message = db.scalars(select(Message).where(Message.wa_message_id == wamid)).one()
        preview = db.scalars(select(Conversation.last_message_preview)).one()
    assert message.body == f"pay {marker}"
    assert marker in str(message.raw_payload) and marker in (preview or "")

    if database.engine.dialect.name == "sqlite":
        raw = raw_sqlite_bytes(database)
        assert wamid.encode() in raw  # the scan does see stored rows: ids are kept in clear for uniqueness
        assert marker.encode() not in raw
        assert org.app_secret.encode() not in raw
    else:
        raw_text = raw_postgres_text(database)
        assert wamid in raw_text
        for needle in (marker, marker.encode().hex(), org.app_secret, org.app_secret.encode().hex()):
            assert needle not in raw_text


def test_first_encrypted_write_on_a_new_sqlite_database_does_not_lock_itself(tmp_path, master_keys) -> None:
    """A database migrated without `cli migrate` has no data key yet; the first secret written must still save."""
    from pkcrm_app.core.migrate import upgrade_to_head

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    upgrade_to_head(url)
    database = Database(url, master_keys)
    event.listen(database.engine, "connect", lambda conn, _record: conn.execute("PRAGMA busy_timeout=300"))
    try:
        with database.session() as db:
            org = create_organisation(db, name="Fresh", slug="fresh")
            register_number(db, org_id=org.id, phone_number_id="1", app_secret="s3cret", verify_token="t")
    except OperationalError as exc:
        raise AssertionError(f"first encrypted write failed: {exc.orig}") from None
    finally:
        database.dispose()
