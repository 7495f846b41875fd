"""Builders of small Cloud API webhook envelopes, and a signed POST of one to the app."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pkcrm_app.channels.whatsapp.webhook import sign

if TYPE_CHECKING:
    from starlette.testclient import TestClient

WEBHOOK_URL = "/webhooks/whatsapp"


def text_message(wamid: str, sender: str, body: str, timestamp: int = 1_700_000_000) -> dict[str, Any]:
    return {"from": sender, "id": wamid, "timestamp": str(timestamp), "type": "text", "text": {"body": body}}


def image_message(wamid: str, sender: str, timestamp: int = 1_700_000_000) -> dict[str, Any]:
    return {"from": sender, "id": wamid, "timestamp": str(timestamp), "type": "image",
            "image": {"id": "MEDIA-1", "mime_type": "image/jpeg", "sha256": "abc"}}


def status(wamid: str, state: str, timestamp: int = 1_700_000_100, errors: list[dict[str, Any]] | None = None
           ) -> dict[str, Any]:
    item: dict[str, Any] = {"id": wamid, "status": state, "timestamp": str(timestamp), "recipient_id": "15550001111"}
    if errors is not None:
        item["errors"] = errors
    return item


def change(phone_number_id: str, *, messages: list[dict[str, Any]] | None = None,
           statuses: list[dict[str, Any]] | None = None, contacts: list[dict[str, Any]] | None = None,
           field: str = "messages") -> dict[str, Any]:
    value: dict[str, Any] = {"messaging_product": "whatsapp",
                             "metadata": {"display_phone_number": "15550000000", "phone_number_id": phone_number_id}}
    for key, items in (("contacts", contacts), ("messages", messages), ("statuses", statuses)):
        if items is not None:
            value[key] = items
    return {"field": field, "value": value}


def envelope(*changes: dict[str, Any]) -> dict[str, Any]:
    return {"object": "whatsapp_business_account", "entry": [{"id": "WABA-1", "changes": list(changes)}]}


def post_signed(client: TestClient, payload: Any, secret: str | None) -> Any:
    """POST `payload` (a dict, or raw bytes) with the signature `secret` makes; no header when None."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers["x-hub-signature-256"] = sign(body, secret)
    return client.post(WEBHOOK_URL, content=body, headers=headers)


def post_text(base_url: str, *, phone_number_id: str, app_secret: str, wa_id: str, name: str, text: str) -> Any:
    """POST one signed text message from customer `wa_id` to a running app at `base_url` (end-to-end tests)."""
    import secrets
    import time

    import httpx

    contacts = [{"profile": {"name": name}, "wa_id": wa_id}]
    message = text_message("wamid." + secrets.token_hex(12), wa_id, text, int(time.time()))
    body = json.dumps(envelope(change(phone_number_id, contacts=contacts, messages=[message]))).encode()
    headers = {"content-type": "application/json", "x-hub-signature-256": sign(body, app_secret)}
    return httpx.post(base_url.rstrip("/") + WEBHOOK_URL, content=body, headers=headers, timeout=30)
