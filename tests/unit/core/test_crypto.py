"""Envelope encryption: master key parsing, data key wrapping, rotation and the key file."""

from __future__ import annotations

import base64
import stat
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from pkcrm_app.core.crypto import EncryptionKeyError, MasterKeys, load_master_keys
from pkcrm_app.core.db import Database
from pkcrm_app.core.keyring import LEGACY_SCOPE, DataKey, organisation_scope
from pkcrm_app.core.migrate import upgrade_to_head
from pkcrm_app.settings import get_settings
from tests.conftest import TEST_MASTER_KEY

KEY_A = base64.urlsafe_b64encode(bytes(range(32))).decode()
KEY_B = base64.urlsafe_b64encode(bytes(range(100, 132))).decode()


@pytest.fixture
def url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    upgrade_to_head(url)
    return url


def open_db(url: str, keys: str) -> Database:
    return Database(url, MasterKeys.parse(keys))


def seal(url: str, keys: str, plaintext: bytes) -> bytes:
    """Encrypt with a fresh keyring of `keys`, then close it, as a previous run of the app would."""
    database = open_db(url, keys)
    try:
        return database.keyring.encrypt(plaintext)
    finally:
        database.dispose()


def test_parse_bare_key_gets_default_id() -> None:
    keys = MasterKeys.parse(KEY_A)
    assert keys.active_id == "k1"
    assert keys.keys == {"k1": bytes(range(32))}


def test_parse_list_makes_first_key_active() -> None:
    keys = MasterKeys.parse(f"new:{KEY_B}, old:{KEY_A}")
    assert keys.active_id == "new"
    assert keys.keys == {"new": bytes(range(100, 132)), "old": bytes(range(32))}


@pytest.mark.parametrize(("text", "message"), [
    ("k9:A", "master key 'k9' is not valid base64"),
    ("k9:" + base64.urlsafe_b64encode(b"short").decode(), "master key 'k9' must be 32 bytes, got 5"),
    (" , ", "no master key given"),
])
def test_parse_rejects_bad_keys_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(EncryptionKeyError, match=message):
        MasterKeys.parse(text)


def test_round_trip_and_ciphertext_hides_plaintext(url: str) -> None:
    database = open_db(url, f"a:{KEY_A}")
    blob = database.keyring.encrypt(b"customer secret")
    assert b"customer secret" not in blob
    assert database.keyring.decrypt(blob) == b"customer secret"
    database.dispose()
    reopened = open_db(url, f"a:{KEY_A}")
    assert reopened.keyring.decrypt(blob) == b"customer secret"
    reopened.dispose()


def test_another_master_key_with_the_same_id_cannot_read(url: str) -> None:
    seal(url, f"a:{KEY_A}", b"hello")
    with pytest.raises(EncryptionKeyError, match=r"master key 'a' cannot unwrap.*not the one this database"):
        open_db(url, f"a:{KEY_B}")  # refused when the database is opened, before any request


def test_data_key_wrapped_by_an_unconfigured_master_key_is_named(url: str) -> None:
    seal(url, f"a:{KEY_A}", b"hello")
    with pytest.raises(EncryptionKeyError, match="wrapped by master key 'a', which is not configured"):
        open_db(url, f"b:{KEY_B}")


def test_tampered_ciphertext_fails_authentication(url: str) -> None:
    database = open_db(url, f"a:{KEY_A}")
    blob = bytearray(database.keyring.encrypt(b"amount: 100"))
    blob[-1] ^= 0x01
    with pytest.raises(EncryptionKeyError, match="fails authentication"):
        database.keyring.decrypt(bytes(blob))
    with pytest.raises(EncryptionKeyError, match="not in a known ciphertext format"):
        database.keyring.decrypt(b"plain text")
    database.dispose()


def test_rotate_data_key_keeps_old_values_readable(url: str) -> None:
    database = open_db(url, f"a:{KEY_A}")
    old_id = database.keyring.ensure_active_key()
    old_blob = database.keyring.encrypt(b"before")
    new_id = database.keyring.rotate_data_key()
    new_blob = database.keyring.encrypt(b"after")
    assert new_id != old_id
    assert old_blob[1:17].hex() == old_id and new_blob[1:17].hex() == new_id
    database.dispose()

    reopened = open_db(url, f"a:{KEY_A}")
    assert reopened.keyring.decrypt(old_blob) == b"before"
    assert reopened.keyring.decrypt(new_blob) == b"after"
    assert reopened.keyring.encrypt(b"later")[1:17].hex() == new_id
    with reopened.session() as db:
        retired = {k.id: k.retired_at for k in db.scalars(select(DataKey))}
    assert retired[old_id] is not None and retired[new_id] is None
    reopened.dispose()


def test_rewrap_all_moves_data_keys_to_the_new_master_key(url: str) -> None:
    blob = seal(url, TEST_MASTER_KEY, b"kept through master key rotation")
    both = open_db(url, f"new:{KEY_B},{TEST_MASTER_KEY}")
    assert both.keyring.rewrap_all() == 1
    both.dispose()

    only_new = open_db(url, f"new:{KEY_B}")
    assert only_new.keyring.decrypt(blob) == b"kept through master key rotation"
    only_new.dispose()
    with pytest.raises(EncryptionKeyError, match="master key 'new'"):
        open_db(url, TEST_MASTER_KEY)


def test_scoped_keys_are_made_on_first_use_and_any_scope_opens_after_a_restart(url: str) -> None:
    database = open_db(url, TEST_MASTER_KEY)
    legacy_id = database.keyring.ensure_active_key()
    column_value = database.keyring.encrypt(b"a message body")  # the column types: legacy scope
    assert database.keyring.key_of(column_value) == (legacy_id, LEGACY_SCOPE)
    with database.session() as db:  # no organisation key until one is used
        assert set(db.scalars(select(DataKey.scope))) == {LEGACY_SCOPE}
    first, second = (database.keyring.encrypt(b"file", scope=organisation_scope(n)) for n in (1, 2))
    assert len({legacy_id, first[1:17].hex(), second[1:17].hex()}) == 3
    assert database.keyring.encrypt(b"again", scope=organisation_scope(1))[1:17] == first[1:17]  # cached
    bound = database.keyring.encrypt(b"chunk", scope=organisation_scope(1), associated=b"place 1")
    database.dispose()

    reopened = open_db(url, TEST_MASTER_KEY)
    assert reopened.keyring.decrypt(first) == b"file" and reopened.keyring.decrypt(column_value) == b"a message body"
    assert reopened.keyring.key_of(second)[1] == organisation_scope(2)
    assert reopened.keyring.decrypt(bound, associated=b"place 1") == b"chunk"
    with pytest.raises(EncryptionKeyError, match="fails authentication"):
        reopened.keyring.decrypt(bound, associated=b"place 2")
    new_org_key = reopened.keyring.rotate_data_key(organisation_scope(1))
    assert reopened.keyring.ensure_active_key() == legacy_id  # other scopes keep theirs
    assert reopened.keyring.encrypt(b"x", scope=organisation_scope(1))[1:17].hex() == new_org_key
    assert reopened.keyring.decrypt(first) == b"file"
    reopened.dispose()


def test_crypto_imports_neither_the_engine_nor_the_keyring() -> None:
    """db.py opens the keyring, which uses crypto's format; crypto looks keyrings up by dialect: no cycle."""
    import ast
    from pathlib import Path

    import pkcrm_app.core.crypto as crypto

    tree = ast.parse(Path(crypto.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not imported & {"pkcrm_app.core.db", "pkcrm_app.core.keyring"}


@pytest.fixture
def no_master_key_env(monkeypatch, tmp_path) -> Iterator[None]:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("PKCRM_MASTER_KEY", raising=False)
    monkeypatch.setenv("PKCRM_INSTANCE_DIR", str(tmp_path / "instance"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("no_master_key_env")
def test_first_run_creates_a_private_key_file_and_reuses_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    key_file = tmp_path / "instance" / "master.key"
    assert not key_file.exists()
    first = load_master_keys()
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first.keys[first.active_id]) == 32
    assert load_master_keys() == first
