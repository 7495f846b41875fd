"""The simulator playing customers: signed status webhooks after each send, and inbound messages."""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from pkcrm_app.dev.cloud_simulator.state import SimNumber
from pkcrm_app.dev.customer_simulator import Customer, signed_body, text_envelope

log = logging.getLogger("pkcrm.cloud_simulator")


def status_envelope(number: SimNumber, *, wamid: str, status: str, recipient: str, key: str | None,
                    errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": wamid, "status": status, "timestamp": str(int(time.time())),
                            "recipient_id": recipient}
    if key:
        item["biz_opaque_callback_data"] = key
    if status in ("sent", "delivered"):
        item["conversation"] = {"id": "CONV" + wamid[-8:], "origin": {"type": "service"}}
        item["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "service"}
    if errors:
        item["errors"] = errors
    return {"object": "whatsapp_business_account", "entry": [{"id": number.business_account_id, "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": number.display_phone_number.replace(" ", "").lstrip("+"),
                         "phone_number_id": number.phone_number_id},
            "statuses": [item]}}]}]}


class Customers:
    """Posts signed webhooks to the app with realistic delays, some duplicated and some out of order."""

    def __init__(self, webhook_url: str, *, time_scale: float = 1.0, duplicate_rate: float = 0.1,
                 reorder_rate: float = 0.1, seed: int | None = None) -> None:
        self.webhook_url, self.time_scale = webhook_url, time_scale
        self.duplicate_rate, self.reorder_rate = duplicate_rate, reorder_rate
        self.rng = random.Random(seed)
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sim-webhook")
        self.http = httpx.Client(timeout=10)
        self.posted = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.http.close()

    def _post(self, number: SimNumber, envelope: dict[str, Any], delay: float) -> None:
        time.sleep(delay * self.time_scale)
        body, headers = signed_body(envelope, number.app_secret)
        try:
            self.http.post(self.webhook_url, content=body, headers=headers)
            with self._lock:
                self.posted += 1
        except httpx.HTTPError as exc:
            log.info("webhook to %s failed: %s", self.webhook_url, exc)

    def after_send(self, number: SimNumber, *, wamid: str, to: str, key: str | None) -> None:
        """sent (~0.1 s), delivered (~0.5 s), read (~2 s): sometimes twice, sometimes read before delivered."""
        if not self.webhook_url:
            return
        with self._lock:
            delays = {"sent": self.rng.uniform(0.05, 0.3), "delivered": self.rng.uniform(0.3, 1.0),
                      "read": self.rng.uniform(1.0, 4.0)}
            if self.rng.random() < self.reorder_rate:
                delays["read"], delays["delivered"] = delays["delivered"], delays["read"]
            duplicates = [s for s in delays if self.rng.random() < self.duplicate_rate]
        for status, delay in [*delays.items(), *((s, delays[s] + 0.2) for s in duplicates)]:
            envelope = status_envelope(number, wamid=wamid, status=status, recipient=to, key=key)
            self.pool.submit(self._post, number, envelope, delay)

    def failed(self, number: SimNumber, *, wamid: str, to: str, key: str | None, code: int, title: str) -> None:
        if self.webhook_url:
            envelope = status_envelope(number, wamid=wamid, status="failed", recipient=to, key=key,
                                       errors=[{"code": code, "title": title}])
            self.pool.submit(self._post, number, envelope, 0.1)

    def say(self, number: SimNumber, customer: Customer, text: str) -> dict[str, Any]:
        """A customer writes to the business now (synchronously); returns the envelope posted."""
        envelope = text_envelope(phone_number_id=number.phone_number_id, customer=customer, text=text)
        self._post(number, envelope, 0.0)
        return envelope
