"""Pure parsing of Cloud API webhook envelopes and their signature; no I/O, safe to fuzz."""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pkcrm_app.channels.whatsapp.inbound_types import Extracted, extract

log = logging.getLogger(__name__)

STATUS_RANK = {"pending": 0, "sent": 1, "delivered": 2, "read": 3, "played": 4}


class WebhookFormatError(ValueError):
    """The body is not a Cloud API webhook envelope."""


@dataclass(frozen=True)
class InboundMessage:
    wa_message_id: str
    sender_id: str
    sender_name: str
    type: str
    text: str | None
    timestamp: datetime
    raw: dict[str, Any]
    kind: Extracted = field(default_factory=Extracted)


@dataclass(frozen=True)
class StatusUpdate:
    wa_message_id: str
    status: str
    timestamp: datetime
    recipient_id: str
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ChangeBatch:
    """One `messages` change, addressed to one business phone number."""

    phone_number_id: str
    messages: list[InboundMessage] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def sign(body: bytes, app_secret: str) -> str:
    """The X-Hub-Signature-256 header value Meta sends for `body`."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(body: bytes, header: str | None, app_secret: str) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    return hmac.compare_digest(sign(body, app_secret).encode(), header.strip().encode())


def _timestamp(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(value), UTC).replace(tzinfo=None)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(UTC).replace(tzinfo=None)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _parse_message(raw: dict[str, Any], names: dict[str, str], fallback_sender: str) -> InboundMessage:
    wa_message_id = raw.get("id")
    if not isinstance(wa_message_id, str) or not wa_message_id:
        raise WebhookFormatError("message without an id")
    sender = raw.get("from") or raw.get("user_id") or fallback_sender
    if not isinstance(sender, str) or not sender:
        raise WebhookFormatError(f"message {wa_message_id} has no sender")
    msg_type = raw["type"][:32] if isinstance(raw.get("type"), str) and raw["type"] else "unknown"
    try:
        kind = extract(msg_type, raw)
    except Exception:  # a bug in one extractor must not lose the message: it is kept with its raw payload
        log.exception("message %s of type %s could not be read in detail", wa_message_id, msg_type)
        kind = Extracted()
    return InboundMessage(
        wa_message_id=wa_message_id[:200], sender_id=sender[:64], sender_name=names.get(sender, ""),
        type=msg_type, text=kind.text, timestamp=_timestamp(raw.get("timestamp")), raw=raw, kind=kind,
    )


def _parse_status(raw: dict[str, Any]) -> StatusUpdate:
    wa_message_id, status = raw.get("id"), raw.get("status")
    if not isinstance(wa_message_id, str) or not isinstance(status, str):
        raise WebhookFormatError("status without an id or a status")
    errors = [e for e in _list(raw.get("errors")) if isinstance(e, dict)]
    return StatusUpdate(wa_message_id=wa_message_id, status=status.lower(), timestamp=_timestamp(raw.get("timestamp")),
                        recipient_id=str(raw.get("recipient_id") or ""), errors=errors)


def _parse_change(value: dict[str, Any]) -> ChangeBatch | None:
    phone_number_id = _dict(value.get("metadata")).get("phone_number_id")
    if not isinstance(phone_number_id, str) or not phone_number_id:
        return None
    batch = ChangeBatch(phone_number_id=phone_number_id)
    names: dict[str, str] = {}
    contacts = [c for c in _list(value.get("contacts")) if isinstance(c, dict)]
    for contact in contacts:
        name = _dict(contact.get("profile")).get("name")
        for key in ("wa_id", "user_id"):
            if isinstance(contact.get(key), str) and isinstance(name, str):
                names[contact[key]] = name[:200]
    lone_sender = ""
    if len(contacts) == 1:
        lone_sender = str(contacts[0].get("wa_id") or contacts[0].get("user_id") or "")
    for raw in _list(value.get("messages")):
        try:
            batch.messages.append(_parse_message(_dict(raw), names, lone_sender))
        except WebhookFormatError as exc:
            batch.skipped.append(str(exc))
    for raw in _list(value.get("statuses")):
        try:
            batch.statuses.append(_parse_status(_dict(raw)))
        except WebhookFormatError as exc:
            batch.skipped.append(str(exc))
    return batch


@dataclass(frozen=True)
class Addressees:
    """Whom a delivery is for, read before its signature is checked to pick the one app secret that signed it:
    the business numbers its changes name (`value.metadata.phone_number_id`), the business accounts (entry ids)
    of changes that name no number (account-level fields), and how many changes it holds."""

    numbers: frozenset[str]
    accounts: frozenset[str]
    changes: int


def addressees(payload: Any) -> Addressees:
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        raise WebhookFormatError("not a whatsapp_business_account webhook")
    numbers: set[str] = set()
    accounts: set[str] = set()
    changes = 0
    for entry in _list(payload.get("entry")):
        for change in _list(_dict(entry).get("changes")):
            changes += 1
            number = _dict(_dict(_dict(change).get("value")).get("metadata")).get("phone_number_id")
            if isinstance(number, str) and number:
                numbers.add(number)
            elif isinstance(_dict(entry).get("id"), str) and _dict(entry)["id"]:
                accounts.add(_dict(entry)["id"])
    return Addressees(frozenset(numbers), frozenset(accounts), changes)


def parse_envelope(payload: Any) -> list[ChangeBatch]:
    """Every `messages` change of a webhook body; other fields are acknowledged and logged, bad items skipped."""
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        raise WebhookFormatError("not a whatsapp_business_account webhook")
    batches: list[ChangeBatch] = []
    for entry in _list(payload.get("entry")):
        for change in _list(_dict(entry).get("changes")):
            change = _dict(change)
            if change.get("field") != "messages":
                log.info("webhook field %r acknowledged, nothing stored", str(change.get("field"))[:64])
                continue
            batch = _parse_change(_dict(change.get("value")))
            if batch is not None:
                batches.append(batch)
    return batches
