"""What admins do with their WhatsApp connection: list, add and change numbers, and test them.

Access token, app secret and verify token are write-only: stored encrypted, reported only by their last
four characters. Setting or changing one is a sensitive action (step-up), like any API token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pkcrm_app.audit.service import record
from pkcrm_app.channels.whatsapp.client import CloudApiError, CloudClient
from pkcrm_app.channels.whatsapp.models import WhatsAppNumber
from pkcrm_app.core.authz import Actor, Permission
from pkcrm_app.core.db import utcnow
from pkcrm_app.core.errors import InvalidInput, NotFound

log = logging.getLogger("pkcrm.whatsapp")
ClientFactory = Callable[[str], CloudClient]
SECRET_FIELDS = ("access_token", "app_secret", "verify_token")


@dataclass(frozen=True)
class NumberView:
    """What the settings page shows of a number; secrets only as their last four characters."""

    id: int
    phone_number_id: str
    display_phone_number: str
    business_account_id: str
    access_token_hint: str
    app_secret_hint: str
    verify_token_hint: str
    messages_per_second: int | None


def hint(secret: str | None) -> str:
    """'…abcd' for a stored secret (at most its last 4 characters), '' when none is stored."""
    if not secret:
        return ""
    return "…" + secret[-4:] if len(secret) >= 12 else "…" + secret[-2:]


def _view(n: WhatsAppNumber) -> NumberView:
    return NumberView(id=n.id, phone_number_id=n.phone_number_id, display_phone_number=n.display_phone_number,
                      business_account_id=n.business_account_id or "", access_token_hint=hint(n.access_token),
                      app_secret_hint=hint(n.app_secret), verify_token_hint=hint(n.verify_token),
                      messages_per_second=n.messages_per_second)


def list_numbers(db: Session, actor: Actor) -> list[NumberView]:
    actor.require(Permission.INTEGRATIONS_MANAGE)
    rows = db.scalars(select(WhatsAppNumber).where(WhatsAppNumber.org_id == actor.org_id).order_by(WhatsAppNumber.id))
    return [_view(n) for n in rows]


def get_number(db: Session, actor: Actor, number_id: int) -> WhatsAppNumber:
    """One connected number of the organisation, secrets included (for the services that use them)."""
    actor.require(Permission.INTEGRATIONS_MANAGE)
    number = db.scalar(select(WhatsAppNumber).where(WhatsAppNumber.id == number_id,
                                                    WhatsAppNumber.org_id == actor.org_id))
    if number is None:
        raise NotFound("that WhatsApp number is not connected to this organisation")
    return number


def _digits(value: str, what: str) -> str:
    value = value.strip()
    if value and (not value.isdigit() or len(value) > 64):
        raise InvalidInput(f"the {what} is the number Meta shows (digits only)")
    return value


def save_number(
    db: Session, actor: Actor, *, number_id: int | None, phone_number_id: str, business_account_id: str,
    display_phone_number: str = "", access_token: str = "", app_secret: str = "", verify_token: str = "",
    messages_per_second: int | None = None, ip: str = "", device: str = "",
) -> NumberView:
    """Add a number (`number_id` None) or change one; an empty secret keeps the stored one."""
    actor.require(Permission.INTEGRATIONS_MANAGE)
    secrets = {"access_token": access_token.strip(), "app_secret": app_secret.strip(),
               "verify_token": verify_token.strip()}
    if any(secrets.values()):
        actor.require_step_up(Permission.INTEGRATIONS_MANAGE)
    if any(len(v) > 1000 for v in secrets.values()) or len(display_phone_number) > 32:
        raise InvalidInput("a value is too long")
    phone_number_id = _digits(phone_number_id, "phone number ID")
    business_account_id = _digits(business_account_id, "WhatsApp business account ID")
    if not phone_number_id:
        raise InvalidInput("the phone number ID is required")
    if messages_per_second is not None and not 1 <= messages_per_second <= 1000:
        raise InvalidInput("messages per second must be between 1 and 1000")
    if number_id is None:
        missing = [name.replace("_", " ") for name, value in secrets.items() if not value]
        if missing:
            raise InvalidInput("a new number needs its " + ", ".join(missing))
        number = WhatsAppNumber(org_id=actor.org_id, phone_number_id=phone_number_id, **secrets)
        db.add(number)
    else:
        number = get_number(db, actor, number_id)
        number.phone_number_id = phone_number_id
        for name, value in secrets.items():
            if value:
                setattr(number, name, value)
    number.business_account_id = business_account_id
    number.display_phone_number = display_phone_number.strip()
    number.messages_per_second = messages_per_second
    number.updated_at = utcnow()
    try:
        db.flush()
    except IntegrityError:
        db.rollback()
        raise InvalidInput("that phone number ID is already connected") from None
    record(db, action="whatsapp.number_saved", org_id=actor.org_id, actor_user_id=actor.user_id,
           target_type="whatsapp_number", target_id=number.id, ip_address=ip, device=device,
           details={"phone_number_id": phone_number_id, "business_account_id": business_account_id,
                    "created": number_id is None, "secrets_changed": sorted(k for k, v in secrets.items() if v)})
    return _view(number)


def _client(token: str) -> CloudClient:
    return CloudClient(access_token=token)


def refusal_words(exc: CloudApiError, *, what: str = "this ID") -> str:
    """What an admin is told when the Cloud API call failed: fixed sentences and numbers only. The API's own
    words, addresses and exception names go to the log (they can name the hosts and ports the app talks to)."""
    log.warning("Cloud API call failed (%s, HTTP %s, code %s): %s", exc.outcome.value, exc.http_status, exc.code,
                exc.reason)
    if exc.code == 190:
        return "WhatsApp refused the access token (expired or wrong)."
    if exc.http_status in (400, 404) or exc.code == 100:
        return f"WhatsApp does not know {what} for this token."
    if exc.http_status is None:
        return "WhatsApp could not be reached just now. Try again in a few minutes."
    detail = f"HTTP {exc.http_status}" + (f", error {exc.code}" if exc.code is not None else "")
    return f"WhatsApp refused the request ({detail})."


def check_connection(db: Session, actor: Actor, number_id: int, *, client_factory: ClientFactory = _client) -> str:
    """GET the number from the Cloud API with its token; the answer in plain words."""
    actor.require(Permission.INTEGRATIONS_MANAGE)
    number = get_number(db, actor, number_id)
    if not number.access_token:
        return "No access token is stored for this number: paste one and save first."
    client = client_factory(number.access_token)
    try:
        found = client.phone_number(number.phone_number_id)
    except CloudApiError as exc:
        return "Connection failed: " + refusal_words(exc, what=f"phone number ID {number.phone_number_id}")
    finally:
        client.close()
    name = found.get("verified_name") or "(no verified name)"
    shown = found.get("display_phone_number") or number.display_phone_number
    quality = found.get("quality_rating") or "unknown"
    return f"Connected: {shown} ({name}), quality rating {quality}."
