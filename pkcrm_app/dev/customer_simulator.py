"""A customer simulator: builds Cloud API webhook envelopes and posts them, signed, to the app."""

from __future__ import annotations

import json
import random
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from pkcrm_app.channels.whatsapp.webhook import sign

CUSTOMER_MESSAGES = [
    "Hi! Is this still available?", "What's your best price?", "Can you deliver tomorrow?",
    "Do you accept bank transfer?", "Please call me back.", "I want to order 2 units.",
    "Is there a warranty?", "Thanks, received!", "Can I visit your shop?", "Send me the catalogue please.",
]


@dataclass(frozen=True)
class Customer:
    wa_id: str
    name: str


def text_envelope(
    *, phone_number_id: str, customer: Customer, text: str, wamid: str | None = None, timestamp: int | None = None
) -> dict[str, Any]:
    """A Cloud API `messages` webhook carrying one inbound text message."""
    return {
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "WABA-SIMULATOR",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550000000", "phone_number_id": phone_number_id},
                    "contacts": [{"profile": {"name": customer.name}, "wa_id": customer.wa_id}],
                    "messages": [{
                        "from": customer.wa_id, "id": wamid or f"wamid.sim.{secrets.token_hex(12)}",
                        "timestamp": str(timestamp or int(time.time())), "type": "text", "text": {"body": text},
                    }],
                },
            }],
        }],
    }


def signed_body(envelope: dict[str, Any], app_secret: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(envelope, ensure_ascii=False).encode()
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, app_secret)}


def conversation_stream(
    customers: list[Customer], rng: random.Random, new_every: int = 5
) -> Iterator[tuple[Customer, str]]:
    """Endless (customer, text) pairs; every `new_every`-th message comes from a brand-new customer."""
    count = 0
    while True:
        count += 1
        if count % new_every == 0 or not customers:
            customer = Customer(wa_id=f"9233{rng.randrange(10**8):08d}", name=f"New Customer {count}")
            customers.append(customer)
        else:
            customer = rng.choice(customers)
        yield customer, rng.choice(CUSTOMER_MESSAGES)


def run(
    *, url: str, phone_number_id: str, app_secret: str, customers: list[Customer], count: int, interval: float,
    seed: int | None = None,
) -> int:
    """Post `count` signed customer messages to `url`, one every `interval` seconds; returns how many landed."""
    rng = random.Random(seed)
    landed = 0
    with httpx.Client(timeout=10) as client:
        for index, (customer, text) in enumerate(conversation_stream(customers, rng)):
            if index >= count:
                break
            body, headers = signed_body(text_envelope(phone_number_id=phone_number_id, customer=customer, text=text),
                                        app_secret)
            response = client.post(url, content=body, headers=headers)
            landed += response.status_code == 200
            print(f"[{index + 1}/{count}] {customer.name} ({customer.wa_id}): {text!r} -> {response.status_code}",
                  flush=True)
            time.sleep(interval)
    return landed
