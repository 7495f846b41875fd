"""Encryption at rest: AES-GCM envelope keys and encrypted column types.

A master key (environment or a 0600 key file) wraps data keys stored in the database; every
ciphertext names the data key that sealed it, so both kinds of key can rotate without downtime.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import weakref
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import DateTime, LargeBinary, String, insert, select, update
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from pkcrm_app.core.db import Base, utcnow

log = logging.getLogger(__name__)

FORMAT_V1 = b"\x01"
HEADER_LEN = 1 + 16
NONCE_LEN = 12


class EncryptionKeyError(RuntimeError):
    """A key is missing, wrong or unusable; the message says which and what to check."""


class DataKey(Base):
    """A data key, stored wrapped by a master key; retired keys still decrypt."""

    __tablename__ = "encryption_key"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    master_key_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[Any] = mapped_column(DateTime, default=utcnow)
    retired_at: Mapped[Any] = mapped_column(DateTime, nullable=True)


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


_KEYRINGS: weakref.WeakKeyDictionary[Dialect, Keyring] = weakref.WeakKeyDictionary()


def keyring_for(dialect: Dialect) -> Keyring:
    try:
        return _KEYRINGS[dialect]
    except KeyError:
        raise EncryptionKeyError("no keyring is bound to this database engine") from None


class Keyring:
    """Unwrapped data keys of one database, loaded on first use."""

    def __init__(self, engine: Engine, master: MasterKeys) -> None:
        self.engine = engine
        self.master = master
        self._ciphers: dict[bytes, AESGCM] = {}
        self._active: bytes | None = None
        self._lock = threading.Lock()
        _KEYRINGS[engine.dialect] = self

    def forget(self) -> None:
        with self._lock:
            self._ciphers.clear()
            self._active = None

    def _unwrap(self, row: DataKey) -> AESGCM:
        master = self.master.keys.get(row.master_key_id)
        if master is None:
            raise EncryptionKeyError(
                f"data key {row.id} is wrapped by master key '{row.master_key_id}', "
                "which is not configured (PKCRM_MASTER_KEY or instance/master.key)"
            )
        try:
            raw = AESGCM(master).decrypt(row.wrapped[:NONCE_LEN], row.wrapped[NONCE_LEN:], row.id.encode())
        except InvalidTag:
            raise EncryptionKeyError(
                f"master key '{row.master_key_id}' cannot unwrap data key {row.id}: "
                "the configured master key is not the one this database was encrypted with"
            ) from None
        return AESGCM(raw)

    def _wrap(self, key_id: str, raw: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_LEN)
        master = self.master.keys[self.master.active_id]
        return nonce + AESGCM(master).encrypt(nonce, raw, key_id.encode())

    def _load(self) -> None:
        with self.engine.connect() as conn:
            rows = conn.execute(select(DataKey).order_by(DataKey.created_at)).all()
        for row in rows:
            key = DataKey(**row._mapping)
            self._ciphers[bytes.fromhex(key.id)] = self._unwrap(key)
            if key.retired_at is None:
                self._active = bytes.fromhex(key.id)

    def ensure_active_key(self) -> str:
        """Load the data keys, creating the first one if the database has none; returns its id."""
        with self._lock:
            if self._active is None:
                self._load()
            if self._active is None:
                self._active = self._create_key()
            return self._active.hex()

    def _create_key(self) -> bytes:
        key_id = secrets.token_bytes(16)
        raw = AESGCM.generate_key(bit_length=256)
        with self.engine.begin() as conn:
            conn.execute(
                insert(DataKey).values(
                    id=key_id.hex(), wrapped=self._wrap(key_id.hex(), raw),
                    master_key_id=self.master.active_id, created_at=utcnow(),
                )
            )
        self._ciphers[key_id] = AESGCM(raw)
        return key_id

    def rotate_data_key(self) -> str:
        """Retire the active data key and start a new one; old ciphertexts still decrypt."""
        self.ensure_active_key()
        with self._lock:
            with self.engine.begin() as conn:
                conn.execute(update(DataKey).where(DataKey.retired_at.is_(None)).values(retired_at=utcnow()))
            self._active = self._create_key()
            return self._active.hex()

    def rewrap_all(self) -> int:
        """Re-wrap every data key under the active master key (master key rotation)."""
        self.ensure_active_key()
        with self._lock, self.engine.begin() as conn:
            rows = conn.execute(select(DataKey)).all()
            for row in rows:
                key = DataKey(**row._mapping)
                raw = self._unwrap_raw(key)
                conn.execute(
                    update(DataKey).where(DataKey.id == key.id)
                    .values(wrapped=self._wrap(key.id, raw), master_key_id=self.master.active_id)
                )
            return len(rows)

    def _unwrap_raw(self, row: DataKey) -> bytes:
        self._unwrap(row)  # raises the clear error when the key is wrong
        master = self.master.keys[row.master_key_id]
        return AESGCM(master).decrypt(row.wrapped[:NONCE_LEN], row.wrapped[NONCE_LEN:], row.id.encode())

    def encrypt(self, plaintext: bytes) -> bytes:
        if self._active is None:
            self.ensure_active_key()
        assert self._active is not None
        header = FORMAT_V1 + self._active
        nonce = secrets.token_bytes(NONCE_LEN)
        return header + nonce + self._ciphers[self._active].encrypt(nonce, plaintext, header)

    def decrypt(self, blob: bytes) -> bytes:
        if blob[:1] != FORMAT_V1 or len(blob) < HEADER_LEN + NONCE_LEN + 16:
            raise EncryptionKeyError("value is not in a known ciphertext format")
        header, key_id = blob[:HEADER_LEN], blob[1:HEADER_LEN]
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            with self._lock:
                self._load()  # a key created by another worker since we last looked
            cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise EncryptionKeyError(f"data key {key_id.hex()} is unknown to this database")
        nonce = blob[HEADER_LEN : HEADER_LEN + NONCE_LEN]
        try:
            return cipher.decrypt(nonce, blob[HEADER_LEN + NONCE_LEN :], header)
        except InvalidTag:
            raise EncryptionKeyError(f"value sealed with data key {key_id.hex()} fails authentication") from None


class EncryptedText(TypeDecorator[str]):
    """A text column stored as AES-GCM ciphertext."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:
        return None if value is None else keyring_for(dialect).encrypt(value.encode())

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring_for(dialect).decrypt(bytes(value)).decode()


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON document stored as AES-GCM ciphertext."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        return keyring_for(dialect).encrypt(json.dumps(value, separators=(",", ":")).encode())

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(keyring_for(dialect).decrypt(bytes(value)))
