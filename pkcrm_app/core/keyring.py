"""The keyring: data keys wrapped by the master key, one set per key scope, unwrapped on first use and cached.

A scope names what a key may seal: `legacy` is the database-wide key every encrypted column uses (the column type
cannot choose a scope), `org:<id>` an organisation's key (its blobs, see storage/), `contact:<id>` next. Erasing
a scope's keys makes what they sealed unreadable. A ciphertext names its key, so any value opens whatever scope
sealed it, and rotation (a new active key per scope) needs no downtime.
"""

from __future__ import annotations

import secrets
import threading
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import DateTime, LargeBinary, String, delete, insert, select, update
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import Mapped, mapped_column

from pkcrm_app.core.base import Base, utcnow
from pkcrm_app.core.crypto import (
    FORMAT_V1,
    HEADER_LEN,
    NONCE_LEN,
    EncryptionKeyError,
    MasterKeys,
    bind_sealer,
    sealer_for,
)

LEGACY_SCOPE = "legacy"


def organisation_scope(org_id: int) -> str:
    """The key scope of one organisation's blobs."""
    return f"org:{org_id}"


class DataKey(Base):
    """A data key of one scope, stored wrapped by a master key; retired keys still decrypt."""

    __tablename__ = "encryption_key"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scope: Mapped[str] = mapped_column(String(64), default=LEGACY_SCOPE, index=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    master_key_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


def keyring_for(dialect: Dialect) -> Keyring:
    """The keyring of the engine a session or statement runs on."""
    sealer = sealer_for(dialect)
    assert isinstance(sealer, Keyring)
    return sealer


class Keyring:
    """Unwrapped data keys of one database, loaded per scope on first use."""

    def __init__(self, engine: Engine, master: MasterKeys) -> None:
        self.engine = engine
        self.master = master
        self._ciphers: dict[bytes, AESGCM] = {}
        self._scope_of: dict[bytes, str] = {}
        self._active: dict[str, bytes] = {}
        self._lock = threading.RLock()
        bind_sealer(engine.dialect, self)

    def forget(self) -> None:
        with self._lock:
            self._ciphers.clear()
            self._scope_of.clear()
            self._active.clear()

    # -- wrapping ------------------------------------------------------------------------------------------------
    def _unwrap_raw(self, row: DataKey) -> bytes:
        master = self.master.keys.get(row.master_key_id)
        if master is None:
            raise EncryptionKeyError(
                f"data key {row.id} is wrapped by master key '{row.master_key_id}', "
                "which is not configured (PKCRM_MASTER_KEY or instance/master.key)"
            )
        try:
            return AESGCM(master).decrypt(row.wrapped[:NONCE_LEN], row.wrapped[NONCE_LEN:], row.id.encode())
        except InvalidTag:
            raise EncryptionKeyError(
                f"master key '{row.master_key_id}' cannot unwrap data key {row.id}: "
                "the configured master key is not the one this database was encrypted with"
            ) from None

    def _wrap(self, key_id: str, raw: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_LEN)
        master = self.master.keys[self.master.active_id]
        return nonce + AESGCM(master).encrypt(nonce, raw, key_id.encode())

    # -- loading -------------------------------------------------------------------------------------------------
    def _load(self, *, scope: str | None = None, key_id: bytes | None = None) -> None:
        """Unwrap one scope's keys (or one key by id); the newest unretired key of a scope is its active one."""
        wanted = DataKey.scope == scope if scope is not None else DataKey.id == (key_id or b"").hex()
        query = select(DataKey).where(wanted).order_by(DataKey.created_at)
        with self.engine.connect() as conn:
            rows = [DataKey(**row._mapping) for row in conn.execute(query)]
        for key in rows:
            raw_id = bytes.fromhex(key.id)
            self._ciphers[raw_id] = AESGCM(self._unwrap_raw(key))
            self._scope_of[raw_id] = key.scope
            if key.retired_at is None:
                self._active[key.scope] = raw_id

    def ensure_active_key(self, scope: str = LEGACY_SCOPE) -> str:
        """Load the scope's data keys, creating its first one if it has none; returns the active key's id.

        Call it outside a write transaction under SQLite: a new key is written on a connection of its own."""
        with self._lock:
            if scope not in self._active:
                self._load(scope=scope)
            if scope not in self._active:
                self._active[scope] = self._create_key(scope)
            return self._active[scope].hex()

    def _create_key(self, scope: str) -> bytes:
        key_id = secrets.token_bytes(16)
        raw = AESGCM.generate_key(bit_length=256)
        with self.engine.begin() as conn:
            conn.execute(insert(DataKey).values(
                id=key_id.hex(), scope=scope, wrapped=self._wrap(key_id.hex(), raw),
                master_key_id=self.master.active_id, created_at=utcnow()))
        self._ciphers[key_id] = AESGCM(raw)
        self._scope_of[key_id] = scope
        return key_id

    # -- rotation and erasure ------------------------------------------------------------------------------------
    def rotate_data_key(self, scope: str = LEGACY_SCOPE) -> str:
        """Retire the scope's active data key and start a new one; old ciphertexts still decrypt."""
        self.ensure_active_key(scope)
        with self._lock:
            with self.engine.begin() as conn:
                conn.execute(update(DataKey).where(DataKey.scope == scope, DataKey.retired_at.is_(None))
                             .values(retired_at=utcnow()))
            self._active[scope] = self._create_key(scope)
            return self._active[scope].hex()

    def rewrap_all(self) -> int:
        """Re-wrap every data key of every scope under the active master key (master key rotation)."""
        self.ensure_active_key()
        with self._lock, self.engine.begin() as conn:
            rows = [DataKey(**row._mapping) for row in conn.execute(select(DataKey))]
            for key in rows:
                conn.execute(update(DataKey).where(DataKey.id == key.id).values(
                    wrapped=self._wrap(key.id, self._unwrap_raw(key)), master_key_id=self.master.active_id))
            return len(rows)

    def destroy_scope(self, scope: str) -> int:
        """Erase a scope's keys (crypto-shredding): what they sealed can no longer be read, anywhere."""
        if scope == LEGACY_SCOPE:
            raise EncryptionKeyError("the database-wide key seals every encrypted column; it cannot be erased")
        with self._lock, self.engine.begin() as conn:
            gone = conn.execute(delete(DataKey).where(DataKey.scope == scope)).rowcount
            self.forget_scope(scope)
            return int(gone)

    def forget_scope(self, scope: str) -> None:
        """Drop a scope's keys from memory (after a transaction that deleted their rows committed)."""
        with self._lock:
            for key_id in [k for k, s in self._scope_of.items() if s == scope]:
                self._ciphers.pop(key_id, None)
                self._scope_of.pop(key_id, None)
            self._active.pop(scope, None)

    # -- sealing -------------------------------------------------------------------------------------------------
    def encrypt(self, plaintext: bytes, *, scope: str = LEGACY_SCOPE, associated: bytes = b"") -> bytes:
        """Seal with the scope's active key; `associated` (e.g. a chunk's place in a stream) must match to open."""
        active = self._active.get(scope)
        if active is None:
            self.ensure_active_key(scope)
            active = self._active[scope]
        header = FORMAT_V1 + active
        nonce = secrets.token_bytes(NONCE_LEN)
        return header + nonce + self._ciphers[active].encrypt(nonce, plaintext, header + associated)

    def key_of(self, blob: bytes) -> tuple[str, str]:
        """(key id, scope) of the key that sealed `blob`."""
        key_id = blob[1:HEADER_LEN]
        self._cipher(key_id)
        return key_id.hex(), self._scope_of[key_id]

    def _cipher(self, key_id: bytes) -> AESGCM:
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            with self._lock:
                self._load(key_id=key_id)  # another scope's key, or one created by another worker since
            cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise EncryptionKeyError(f"data key {key_id.hex()} is unknown to this database (or was erased)")
        return cipher

    def decrypt(self, blob: bytes, *, associated: bytes = b"") -> bytes:
        if blob[:1] != FORMAT_V1 or len(blob) < HEADER_LEN + NONCE_LEN + 16:
            raise EncryptionKeyError("value is not in a known ciphertext format")
        header, key_id = blob[:HEADER_LEN], blob[1:HEADER_LEN]
        cipher = self._cipher(key_id)
        nonce = blob[HEADER_LEN : HEADER_LEN + NONCE_LEN]
        try:
            return cipher.decrypt(nonce, blob[HEADER_LEN + NONCE_LEN :], header + associated)
        except InvalidTag:
            raise EncryptionKeyError(f"value sealed with data key {key_id.hex()} fails authentication") from None
