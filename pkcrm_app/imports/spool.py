"""Uploaded chat exports waiting for (or being) imported: blobs of the organisation (scope `imports`), sealed
with its key while they wait, opened as a private local file only while a job reads them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pkcrm_app.core.db import Database
from pkcrm_app.imports.chat_export import ExportFormatError
from pkcrm_app.storage.backend import BlobNotFound
from pkcrm_app.storage.store import BlobScope, blob_store

IMPORT_SPOOLS = BlobScope("imports")


def spool_upload(database: Database, org_id: int, chunks: Iterable[bytes]) -> tuple[str, int]:
    """Store an upload as it streams in; returns (its key, its size). An exception from `chunks` (say, over
    the size limit) leaves nothing behind."""
    key = f"{uuid.uuid4().hex}.upload"
    size = blob_store(database.keyring).put_stream(org_id, IMPORT_SPOOLS, key, chunks)
    return key, size


def _legacy(spool: str) -> bool:
    """Jobs queued before the blob store name a plain file by its absolute path."""
    return os.path.isabs(spool)


@contextmanager
def opened(database: Database, org_id: int, spool: str) -> Iterator[Path]:
    """The upload as a local file for the export reader, for the length of the block."""
    if _legacy(spool):
        yield Path(spool)
        return
    try:
        with blob_store(database.keyring).local_copy(org_id, IMPORT_SPOOLS, spool) as path:
            yield path
    except BlobNotFound:
        raise ExportFormatError("the file could not be read (the upload is no longer there)") from None


def discard(database: Database, org_id: int, spool: str) -> None:
    if not spool:
        return
    if _legacy(spool):
        Path(spool).unlink(missing_ok=True)
    else:
        blob_store(database.keyring).delete(org_id, IMPORT_SPOOLS, spool)
