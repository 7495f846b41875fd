"""The encrypted blob store: sealed with the organisation's own key, 0600 files written all or nothing, scopes
removed per organisation, streams that cannot be cut or reordered, and files of the legacy key re-sealed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from pkcrm_app.core.crypto import EncryptionKeyError
from pkcrm_app.core.db import Database
from pkcrm_app.core.keyring import LEGACY_SCOPE, organisation_scope
from pkcrm_app.jobs.models import Job, JobState
from pkcrm_app.jobs.runner import Runner
from pkcrm_app.settings import get_settings
from pkcrm_app.storage.backend import BlobName, BlobNotFound, FileSystemBackend
from pkcrm_app.storage.reseal import queue_reseal, reseal_kind
from pkcrm_app.storage.store import BlobScope, BlobStore, blob_store

PHOTOS, UPLOADS = BlobScope("photos"), BlobScope("uploads")


@pytest.fixture
def store(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[BlobStore]:
    monkeypatch.setenv("PKCRM_INSTANCE_DIR", str(tmp_path / "instance"))
    get_settings.cache_clear()
    yield blob_store(database.keyring)
    get_settings.cache_clear()


def on_disk(org_id: int, scope: BlobScope, key: str) -> Path:
    return FileSystemBackend(get_settings().instance_dir).path(BlobName(scope.name, org_id, key))


def test_a_blob_is_sealed_with_its_organisations_key_in_a_private_file(store: BlobStore) -> None:
    store.put(1, PHOTOS, "a.bin", b"customer photo")
    store.put(2, PHOTOS, "a.bin", b"another customer")
    assert store.get(1, PHOTOS, "a.bin") == b"customer photo" and store.get(2, PHOTOS, "a.bin") == b"another customer"
    path = on_disk(1, PHOTOS, "a.bin")
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o077 == 0
    assert b"customer" not in path.read_bytes()
    assert store.keyring.key_of(path.read_bytes())[1] == organisation_scope(1)
    assert store.keyring.key_of(on_disk(2, PHOTOS, "a.bin").read_bytes())[1] == organisation_scope(2)
    with pytest.raises(BlobNotFound):
        store.get(3, PHOTOS, "a.bin")
    with pytest.raises(ValueError, match="not a blob name"):
        store.put(1, PHOTOS, "../escape", b"x")


def test_a_failed_write_leaves_the_old_blob_and_no_partial_file(store: BlobStore) -> None:
    store.put(1, UPLOADS, "u.upload", b"old")

    def broken() -> Iterator[bytes]:
        yield b"new part"
        raise OSError("the upload broke off")

    with pytest.raises(OSError):
        store.put_stream(1, UPLOADS, "u.upload", broken())
    assert store.get(1, UPLOADS, "u.upload") == b"old"
    assert [p.name for p in on_disk(1, UPLOADS, "u.upload").parent.iterdir()] == ["u.upload"]


def test_delete_and_delete_scope_touch_only_what_they_name(store: BlobStore) -> None:
    for org_id in (1, 2):
        store.put(org_id, PHOTOS, "a.bin", b"a")
        store.put(org_id, PHOTOS, "b.bin", b"b")
        store.put(org_id, UPLOADS, "c.upload", b"c")
    store.delete(1, PHOTOS, "a.bin")
    store.delete_scope(2, PHOTOS)
    assert [(n.org_id, n.key) for n in store.names(PHOTOS)] == [(1, "b.bin")]
    assert store.get(2, UPLOADS, "c.upload") == b"c"


def test_a_stream_comes_back_whole_and_refuses_cut_or_reordered_chunks(store: BlobStore) -> None:
    chunks = [bytes([i]) * 1000 for i in range(5)]
    assert store.put_stream(1, UPLOADS, "s.upload", iter(chunks)) == 5000
    assert list(store.read_stream(1, UPLOADS, "s.upload")) == chunks
    assert store.get(1, UPLOADS, "s.upload") == b"".join(chunks)
    with store.local_copy(1, UPLOADS, "s.upload") as path:
        assert path.read_bytes() == b"".join(chunks) and path.stat().st_mode & 0o077 == 0
    assert not path.exists()
    sealed = on_disk(1, UPLOADS, "s.upload").read_bytes()
    record = (len(sealed) - 1) // 5
    cut = sealed[: 1 + 4 * record]
    swapped = sealed[:1] + sealed[1 + record : 1 + 2 * record] + sealed[1 : 1 + record] + sealed[1 + 2 * record :]
    for damaged in (cut, swapped):
        on_disk(1, UPLOADS, "s.upload").write_bytes(damaged)
        with pytest.raises(EncryptionKeyError):
            store.get(1, UPLOADS, "s.upload")
    on_disk(1, UPLOADS, "t.upload").parent.mkdir(parents=True, exist_ok=True)
    on_disk(1, UPLOADS, "t.upload").write_bytes(sealed)  # moved to another name: refused too
    with pytest.raises(EncryptionKeyError):
        store.get(1, UPLOADS, "t.upload")


def test_erasing_an_organisations_key_makes_its_blobs_unreadable(store: BlobStore) -> None:
    store.put(1, PHOTOS, "a.bin", b"secret")
    assert store.keyring.destroy_scope(organisation_scope(1)) == 1
    with pytest.raises(EncryptionKeyError, match="or was erased"):
        store.get(1, PHOTOS, "a.bin")
    with pytest.raises(EncryptionKeyError):
        store.keyring.destroy_scope(LEGACY_SCOPE)


def test_files_of_the_legacy_key_stay_readable_and_are_resealed_by_a_resumable_job(
        database: Database, store: BlobStore) -> None:
    paths = []
    for key in ("1.bin", "2.bin", "3.bin"):  # as the media downloads wrote them before key scopes
        path = on_disk(4, PHOTOS, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(database.keyring.encrypt(f"old file {key}".encode()))
        paths.append(path)
    store.put(4, PHOTOS, "4.bin", b"new file")
    assert store.get(4, PHOTOS, "1.bin") == b"old file 1.bin"
    assert store.reseal(BlobName(PHOTOS.name, 4, "1.bin"))  # a first run, cut short after one file
    with database.session() as db:
        queue_reseal(db)
    Runner(database, [reseal_kind((PHOTOS,))]).drain()
    with database.session() as db:
        job = db.scalars(select(Job)).one()
        assert (job.state, job.done, job.total, job.error) == (JobState.DONE, 4, 4, "")
    for path, key in zip(paths, ("1.bin", "2.bin", "3.bin"), strict=True):
        assert store.keyring.key_of(path.read_bytes())[1] == organisation_scope(4)
        assert store.get(4, PHOTOS, key) == f"old file {key}".encode()
    assert not any(store.reseal(name) for name in store.names(PHOTOS))  # nothing left to do
