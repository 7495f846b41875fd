"""The hash chain of the audit log: what an entry's hash covers, as pure functions an auditor can re-run."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

GENESIS_HASH = "0" * 64
"""The `prev_hash` of the first entry of every chain."""

HASHED_FIELDS = (
    "org_id", "actor_user_id", "action", "target_type", "target_id", "details", "ip_address", "device", "created_at",
)
"""Everything an entry says except its id (ids are positions, the chain itself proves order)."""


def normalise_details(details: Mapping[str, Any] | None) -> Any:
    """Details exactly as they will read back from the JSON column (string keys, lists), so hashes match."""
    return json.loads(json.dumps(dict(details or {}), allow_nan=False))


def canonical_json(fields: Mapping[str, Any], prev_hash: str) -> bytes:
    """One byte string per entry: sorted keys, no spaces, ASCII only, time as ISO with microseconds."""
    payload = {name: fields[name] for name in HASHED_FIELDS}
    created_at = payload["created_at"]
    if not isinstance(created_at, datetime):
        raise TypeError(f"created_at must be a datetime, not {type(created_at).__name__}")
    payload["created_at"] = created_at.strftime("%Y-%m-%dT%H:%M:%S.%f")
    payload["prev_hash"] = prev_hash
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def entry_hash(fields: Mapping[str, Any], prev_hash: str) -> str:
    """Hex SHA-256 of the entry's canonical JSON, which includes the previous entry's hash."""
    return hashlib.sha256(canonical_json(fields, prev_hash)).hexdigest()
