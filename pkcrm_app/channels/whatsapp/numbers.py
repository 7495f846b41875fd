"""Connected WhatsApp numbers: registration and the secrets the webhook checks against."""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pkcrm_app.channels.whatsapp.models import WhatsAppNumber
from pkcrm_app.core.db import Database

CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class NumberSecrets:
    org_id: int
    phone_number_id: str
    app_secret: str
    verify_token: str
    business_account_id: str = ""


def register_number(
    db: Session, *, org_id: int, phone_number_id: str, app_secret: str, verify_token: str,
    display_phone_number: str = "", access_token: str | None = None,
) -> WhatsAppNumber:
    number = WhatsAppNumber(org_id=org_id, phone_number_id=phone_number_id, app_secret=app_secret,
                            verify_token=verify_token, display_phone_number=display_phone_number,
                            access_token=access_token)
    db.add(number)
    db.flush()
    return number


class NumberDirectory:
    """Decrypted number secrets, re-read every few seconds so workers see new numbers quickly."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._numbers: dict[str, NumberSecrets] = {}
        self._accounts: dict[str, list[NumberSecrets]] = {}
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def _current(self) -> dict[str, NumberSecrets]:
        with self._lock:
            if time.monotonic() - self._loaded_at > CACHE_SECONDS:
                with self.database.session() as db:
                    rows = db.scalars(select(WhatsAppNumber)).all()
                    self._numbers = {
                        n.phone_number_id: NumberSecrets(n.org_id, n.phone_number_id, n.app_secret, n.verify_token,
                                                         n.business_account_id or "")
                        for n in rows
                    }
                    accounts: dict[str, list[NumberSecrets]] = {}
                    for secrets in self._numbers.values():
                        if secrets.business_account_id:
                            accounts.setdefault(secrets.business_account_id, []).append(secrets)
                    self._accounts = accounts
                self._loaded_at = time.monotonic()
            return self._numbers

    def invalidate(self) -> None:
        with self._lock:
            self._loaded_at = 0.0

    def by_phone_number_id(self, phone_number_id: str) -> NumberSecrets | None:
        return self._current().get(phone_number_id)

    def by_business_account(self, business_account_id: str) -> list[NumberSecrets]:
        """The connected numbers of a WhatsApp business account (account-level changes name no number)."""
        self._current()
        with self._lock:
            return list(self._accounts.get(business_account_id, ()))

    def verify_token_matches(self, token: str) -> bool:
        matches = [hmac.compare_digest(n.verify_token.encode(), token.encode()) for n in self._current().values()]
        return any(matches)
