"""What the Cloud API simulator remembers: numbers, accepted messages, uploaded media, templates.

Magic recipients fail on request (the last digits of `to`): ...00026 -> 131026 (undeliverable), ...00047 ->
131047 (window closed), ...00429 -> 130429 on the first try, ...00500 -> HTTP 500 on the first try,
...00408 -> the first answer is delayed past the client's read time-out.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TEMPLATES: list[dict[str, Any]] = [
    {"name": "hello_world", "language": "en_US", "status": "APPROVED", "category": "UTILITY",
     "components": [{"type": "BODY", "text": "Hello {{1}}, thanks for contacting us. How can we help?"}]},
    {"name": "order_update", "language": "en_US", "status": "APPROVED", "category": "UTILITY",
     "components": [{"type": "BODY", "text": "Hi {{1}}, your order is on its way."},
                    {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Thanks"},
                                                    {"type": "QUICK_REPLY", "text": "Call me"}]}]},
    {"name": "follow_up", "language": "en_US", "status": "APPROVED", "category": "MARKETING",
     "components": [{"type": "BODY", "text": "Hi {{1}}, are you still interested? Reply to continue."}]},
]


@dataclass
class SimNumber:
    phone_number_id: str
    access_token: str
    app_secret: str
    business_account_id: str = "WABA-SIMULATOR"
    display_phone_number: str = "+1 555 000 0000"
    verified_name: str = "PK Demo Shop"


@dataclass
class SimulatorState:
    numbers: dict[str, SimNumber] = field(default_factory=dict)
    rate_per_second: float = 0.0  # 0: no throughput check; else 130429 above it (per number, 1 s window)
    messages: list[dict[str, Any]] = field(default_factory=list)
    media: dict[str, tuple[bytes, str, str]] = field(default_factory=dict)  # id -> (bytes, mime, sha256)
    templates: list[dict[str, Any]] = field(default_factory=lambda: list(DEFAULT_TEMPLATES))
    failures_seen: Counter[str] = field(default_factory=Counter)
    throttled: int = 0  # 130429 answers given for going over `rate_per_second`
    refused: Counter[str] = field(default_factory=Counter)  # permanent failures answered, per recipient
    slow_seconds: float = 20.0  # how long a ...00408 recipient's first send hangs
    lock: threading.Lock = field(default_factory=threading.Lock)
    _recent: dict[str, list[float]] = field(default_factory=dict)

    def add_number(self, number: SimNumber) -> None:
        self.numbers[number.phone_number_id] = number

    def number_for_token(self, token: str) -> SimNumber | None:
        return next((n for n in self.numbers.values() if secrets.compare_digest(n.access_token, token)), None)

    def over_rate(self, phone_id: str) -> bool:
        """Record one send and say whether the last second held more than the number's throughput."""
        if not self.rate_per_second:
            return False
        now = time.monotonic()
        with self.lock:
            recent = [t for t in self._recent.get(phone_id, []) if now - t < 1.0]
            if len(recent) >= self.rate_per_second:
                self._recent[phone_id] = recent
                self.throttled += 1
                return True
            recent.append(now)
            self._recent[phone_id] = recent
        return False

    def accept(self, phone_id: str, payload: dict[str, Any]) -> str:
        wamid = "wamid.SIM" + secrets.token_hex(16)
        with self.lock:
            self.messages.append({"wamid": wamid, "phone_number_id": phone_id, "to": payload.get("to"),
                                  "type": payload.get("type"), "key": payload.get("biz_opaque_callback_data"),
                                  "payload": payload, "at": time.time()})
        return wamid

    def refuse(self, to: str) -> None:
        with self.lock:
            self.refused[to] += 1

    def store_media(self, data: bytes, mime: str) -> str:
        media_id = str(10**15 + secrets.randbelow(10**15))
        with self.lock:
            self.media[media_id] = (data, mime, hashlib.sha256(data).hexdigest())
        return media_id

    def first_time(self, key: str) -> bool:
        with self.lock:
            self.failures_seen[key] += 1
            return self.failures_seen[key] == 1

    def sent_keys(self) -> Counter[str]:
        with self.lock:
            return Counter(str(m["key"]) for m in self.messages)
