"""Encryption at rest: master keys, the ciphertext format, and the encrypted column types.

A master key (environment or a 0600 key file) wraps data keys stored in the database (core/keyring.py);
every ciphertext names the data key that sealed it, so both kinds of key can rotate without downtime. This
module imports neither the engine nor the keyring: a keyring binds itself to its engine's dialect here, and
the column types look it up by the dialect of the statement they are part of.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import weakref
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import LargeBinary
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

FORMAT_V1 = b"\x01"
HEADER_LEN = 1 + 16
NONCE_LEN = 12


class EncryptionKeyError(RuntimeError):
    """A key is missing, wrong or unusable; the message says which and what to check."""


@dataclass(frozen=True)
class MasterKeys:
    """Master keys by id; the first one listed wraps new data keys."""

    keys: dict[str, bytes]
    active_id: str

    @classmethod
    def parse(cls, text: str) -> MasterKeys:
        """Parse `kid:base64[,kid:base64...]` (or one bare base64 key) into master keys."""
        keys: dict[str, bytes] = {}
        active = ""
        for item in [p.strip() for p in text.replace("\n", ",").split(",") if p.strip()]:
            kid, _, encoded = item.rpartition(":")
            kid = kid or "k1"
            try:
                key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_", validate=True)
            except ValueError as exc:
                raise EncryptionKeyError(f"master key '{kid}' is not valid base64") from exc
            if len(key) != 32:
                raise EncryptionKeyError(f"master key '{kid}' must be 32 bytes, got {len(key)}")
            keys[kid] = key
            active = active or kid
        if not keys:
            raise EncryptionKeyError("no master key given")
        return cls(keys=keys, active_id=active)

    def derive(self, purpose: str) -> bytes:
        """A 32-byte server secret for one purpose (e.g. naming live channels), derived from the active key."""
        return hmac.new(self.keys[self.active_id], f"pkcrm:{purpose}".encode(), hashlib.sha256).digest()

    @staticmethod
    def generate_line(kid: str = "k1") -> str:
        return f"{kid}:{base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}"


def load_master_keys(database_url: str | None = None) -> MasterKeys:
    """Master keys from PKCRM_MASTER_KEY, else the instance key file (created 0600 on first run).

    The key file is only for the embedded SQLite database (`database_url`, default: the settings' one): a shared
    database needs PKCRM_MASTER_KEY, so a second machine never invents a key of its own."""
    from pkcrm_app.settings import get_settings

    settings = get_settings()
    if settings.master_key:
        return MasterKeys.parse(settings.master_key)
    if not (database_url or settings.sqlalchemy_url).startswith("sqlite"):
        raise EncryptionKeyError("PKCRM_MASTER_KEY is not set: a shared (non-SQLite) database needs the same master "
                                 "key on every machine; no key file is created for it")
    path = settings.key_file
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Write a complete file under a temporary name, then link it into place: a worker starting
        # at the same moment either wins the link or reads the winner's finished file.
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(MasterKeys.generate_line() + "\n")
        try:
            os.link(draft, path)
            log.warning("created a new master key file at %s (keep it safe and backed up)", path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    if path.stat().st_mode & 0o077:
        log.warning("master key file %s is readable by others; chmod 600 it", path)
    return MasterKeys.parse(path.read_text())


class Sealer(Protocol):
    """What the column types need of a keyring: seal with the legacy (database-wide) scope, open any value."""

    def encrypt(self, plaintext: bytes) -> bytes: ...

    def decrypt(self, blob: bytes) -> bytes: ...


_SEALERS: weakref.WeakKeyDictionary[Dialect, Sealer] = weakref.WeakKeyDictionary()


def bind_sealer(dialect: Dialect, sealer: Sealer) -> None:
    """Make `sealer` the one the encrypted columns of this engine's statements use (a keyring calls it)."""
    _SEALERS[dialect] = sealer


def sealer_for(dialect: Dialect) -> Sealer:
    try:
        return _SEALERS[dialect]
    except KeyError:
        raise EncryptionKeyError("no keyring is bound to this database engine") from None


class EncryptedText(TypeDecorator[str]):
    """A text column stored as AES-GCM ciphertext."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:
        return None if value is None else sealer_for(dialect).encrypt(value.encode())

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> str | None:
        return None if value is None else sealer_for(dialect).decrypt(bytes(value)).decode()


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON document stored as AES-GCM ciphertext."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        return sealer_for(dialect).encrypt(json.dumps(value, separators=(",", ":")).encode())

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(sealer_for(dialect).decrypt(bytes(value)))
