"""The encrypted blob store: an organisation's files, sealed with its own data key (`org:<id>` scope).

Two formats, told apart by their first byte: a blob put whole is one AES-GCM ciphertext (as the database's
values are; blobs written before key scopes existed are of this kind, sealed with the legacy key, and still
open); a streamed blob (an upload too large to hold in memory) is a series of sealed chunks, each bound to
the blob's name, its place in the series and whether it is the last, so chunks cannot be reordered, swapped
between blobs or cut off unnoticed.
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pkcrm_app.core.crypto import FORMAT_V1, EncryptionKeyError
from pkcrm_app.core.keyring import Keyring, organisation_scope
from pkcrm_app.settings import get_settings
from pkcrm_app.storage.backend import BlobBackend, BlobName, FileSystemBackend

STREAM_V1 = b"\x02"
CHUNK = 1024 * 1024
_RECORD = struct.Struct(">I?")  # sealed length, last chunk


@dataclass(frozen=True)
class BlobScope:
    """A kind of file an organisation holds (media, outbound files, import uploads). Every scope is named in
    flows/registry.py's ORGANISATION_FILES, so an organisation's deletion removes it; a test checks that."""

    name: str


class BlobStore:
    """put / get / delete by organisation, scope and key; delete_scope removes one organisation's scope."""

    def __init__(self, keyring: Keyring, backend: BlobBackend, scratch: Path) -> None:
        self.keyring, self.backend, self.scratch = keyring, backend, scratch

    @staticmethod
    def _name(org_id: int, scope: BlobScope, key: str) -> BlobName:
        return BlobName(scope.name, org_id, key)

    def prepare(self, org_id: int) -> None:
        """Load (or create) the organisation's key now. Under SQLite call it before a write transaction that
        stores blobs: a first key is written on a connection of its own, which would wait for that transaction."""
        self.keyring.ensure_active_key(organisation_scope(org_id))

    def put(self, org_id: int, scope: BlobScope, key: str, data: bytes) -> None:
        sealed = self.keyring.encrypt(data, scope=organisation_scope(org_id))
        self.backend.write(self._name(org_id, scope, key), [sealed])

    def get(self, org_id: int, scope: BlobScope, key: str) -> bytes:
        """The decrypted blob; BlobNotFound if there is none."""
        name = self._name(org_id, scope, key)
        with self.backend.open(name) as handle:
            first = handle.read(1)
            if first == STREAM_V1:
                return b"".join(self._chunks(name, handle))
            return self.keyring.decrypt(first + handle.read())

    def delete(self, org_id: int, scope: BlobScope, key: str) -> None:
        self.backend.delete(self._name(org_id, scope, key))

    def delete_scope(self, org_id: int, scope: BlobScope) -> None:
        self.backend.delete_scope(scope.name, org_id)

    # -- streams -------------------------------------------------------------------------------------------------
    @staticmethod
    def _bound(name: BlobName, index: int, last: bool) -> bytes:
        return f"{name.scope}/{name.org_id}/{name.key}".encode() + struct.pack(">Q?", index, last)

    def put_stream(self, org_id: int, scope: BlobScope, key: str, chunks: Iterable[bytes]) -> int:
        """Store a stream of chunks without holding it in memory; an exception from `chunks` stores nothing.
        Returns the plaintext size."""
        name, org_scope = self._name(org_id, scope, key), organisation_scope(org_id)
        size = 0

        def records() -> Iterator[bytes]:
            nonlocal size
            yield STREAM_V1
            index, ahead = 0, None
            for chunk in chunks:
                if ahead is not None:
                    yield self._record(ahead, name, index, last=False, scope=org_scope)
                    index += 1
                ahead = chunk
                size += len(chunk)
            yield self._record(ahead or b"", name, index, last=True, scope=org_scope)

        self.backend.write(name, records())
        return size

    def _record(self, chunk: bytes, name: BlobName, index: int, *, last: bool, scope: str) -> bytes:
        sealed = self.keyring.encrypt(chunk, scope=scope, associated=self._bound(name, index, last))
        return _RECORD.pack(len(sealed), last) + sealed

    def _chunks(self, name: BlobName, handle: BinaryIO) -> Iterator[bytes]:
        index, last = 0, False
        while header := handle.read(_RECORD.size):
            if last or len(header) < _RECORD.size:
                raise EncryptionKeyError(f"{name.key}: data after the last chunk")
            length, last = _RECORD.unpack(header)
            yield self.keyring.decrypt(handle.read(length), associated=self._bound(name, index, last))
            index += 1
        if not last:
            raise EncryptionKeyError(f"{name.key}: the stream is cut short")

    def read_stream(self, org_id: int, scope: BlobScope, key: str) -> Iterator[bytes]:
        name = self._name(org_id, scope, key)
        with self.backend.open(name) as handle:
            if handle.read(1) != STREAM_V1:
                raise EncryptionKeyError(f"{key} was not stored as a stream")
            yield from self._chunks(name, handle)

    @contextmanager
    def local_copy(self, org_id: int, scope: BlobScope, key: str) -> Iterator[Path]:
        """The decrypted blob as a private (0600) file for a reader that needs a path (a zip needs to seek);
        removed when the block ends."""
        self.scratch.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, raw = tempfile.mkstemp(dir=self.scratch, prefix="blob-")
        path = Path(raw)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in self.read_stream(org_id, scope, key):
                    out.write(chunk)
            yield path
        finally:
            path.unlink(missing_ok=True)

    # -- re-sealing ----------------------------------------------------------------------------------------------
    def names(self, scope: BlobScope) -> Iterator[BlobName]:
        return self.backend.names(scope.name)

    def reseal(self, name: BlobName) -> bool:
        """Seal a whole blob again with its organisation's active key if another key sealed it (the legacy
        database-wide key, or a retired one); True if it was rewritten. Streams are sealed per organisation
        from the start."""
        with self.backend.open(name) as handle:
            blob = handle.read()
        if blob[:1] != FORMAT_V1:
            return False
        wanted = organisation_scope(name.org_id)
        if self.keyring.key_of(blob)[0] == self.keyring.ensure_active_key(wanted):
            return False
        self.backend.write(name, [self.keyring.encrypt(self.keyring.decrypt(blob), scope=wanted)])
        return True


def blob_store(keyring: Keyring) -> BlobStore:
    """The store of this installation: files under the instance folder (never a public one)."""
    root = get_settings().instance_dir
    return BlobStore(keyring, FileSystemBackend(root), scratch=root / ".scratch")
