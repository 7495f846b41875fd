"""Where blob bytes live: the interface a backend implements, and the filesystem backend of the embedded run.

Names are (scope, organisation, key): one folder per scope and organisation, so removing an organisation's
scope is removing one folder (or one prefix in an object store). Writes are all or nothing.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


class BlobNotFound(LookupError):
    """No blob under that name (never stored, deleted, or its organisation's scope removed)."""


@dataclass(frozen=True)
class BlobName:
    scope: str
    org_id: int
    key: str

    def __post_init__(self) -> None:
        if not KEY_PATTERN.fullmatch(self.key) or not KEY_PATTERN.fullmatch(self.scope):
            raise ValueError(f"not a blob name: {self.scope}/{self.org_id}/{self.key}")


class BlobBackend(Protocol):
    """What an encrypted store needs of a place to keep bytes (a folder here, an object store bucket later)."""

    def write(self, name: BlobName, chunks: Iterable[bytes]) -> int:
        """Store all of `chunks` under `name` or nothing (an error mid-way leaves the old blob, if any)."""
        ...

    def open(self, name: BlobName) -> AbstractContextManager[BinaryIO]:
        """Read a blob as a stream; BlobNotFound if there is none."""
        ...

    def delete(self, name: BlobName) -> None: ...

    def delete_scope(self, scope: str, org_id: int) -> None:
        """Remove every blob of one organisation in one scope."""
        ...

    def names(self, scope: str) -> Iterator[BlobName]:
        """Every blob of a scope, all organisations."""
        ...


class FileSystemBackend:
    """Blobs as files under `root/<scope>/<org_id>/<key>`: folders 0700, files 0600, written to a temporary
    file in the same folder and moved into place with os.replace (readers see the old file or the new one)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, scope: str, org_id: int) -> Path:
        return self.root / scope / str(org_id)

    def path(self, name: BlobName) -> Path:
        return self.folder(name.scope, name.org_id) / name.key

    def write(self, name: BlobName, chunks: Iterable[bytes]) -> int:
        target = self.path(name)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        draft = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
        size = 0
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                    size += len(chunk)
            os.replace(draft, target)
        except BaseException:
            draft.unlink(missing_ok=True)
            raise
        return size

    def open(self, name: BlobName) -> AbstractContextManager[BinaryIO]:
        try:
            return self.path(name).open("rb")
        except FileNotFoundError:
            raise BlobNotFound(f"{name.scope}/{name.org_id}/{name.key}") from None

    def delete(self, name: BlobName) -> None:
        self.path(name).unlink(missing_ok=True)

    def delete_scope(self, scope: str, org_id: int) -> None:
        shutil.rmtree(self.folder(scope, org_id), ignore_errors=True)

    def names(self, scope: str) -> Iterator[BlobName]:
        base = self.root / scope
        if not base.is_dir():
            return
        for folder in sorted(base.iterdir()):
            if not (folder.is_dir() and folder.name.isdigit()):
                continue  # not an organisation's folder (e.g. files of an older layout)
            for path in sorted(folder.iterdir()):
                if path.is_file() and KEY_PATTERN.fullmatch(path.name):
                    yield BlobName(scope, int(folder.name), path.name)
