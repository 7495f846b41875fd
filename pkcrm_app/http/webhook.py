"""The WhatsApp Cloud API webhook: verification handshake and signed deliveries."""

from __future__ import annotations

import json
import logging
from functools import lru_cache

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from pkcrm_app.channels.whatsapp.numbers import NumberDirectory, NumberSecrets
from pkcrm_app.channels.whatsapp.webhook import (
    WebhookFormatError,
    addressees,
    parse_envelope,
    signature_matches,
)
from pkcrm_app.core.db import get_database
from pkcrm_app.flows.webhook_delivery import deliver
from pkcrm_app.http.deps import client_ip
from pkcrm_app.http.routing import get, post
from pkcrm_app.inbox.media.downloads import download_now
from pkcrm_app.settings import get_settings

log = logging.getLogger("pkcrm.webhook")


@lru_cache(maxsize=1)
def number_directory() -> NumberDirectory:
    return NumberDirectory(get_database())


async def verify_webhook(request: Request) -> Response:
    """Meta's GET handshake: echo hub.challenge when hub.verify_token is one of ours."""
    params = request.query_params
    mode = params.get("hub.mode") or params.get("hub_mode")
    token = params.get("hub.verify_token") or params.get("hub_verify_token") or ""
    challenge = params.get("hub.challenge") or params.get("hub_challenge") or ""
    if mode == "subscribe" and token and await run_in_threadpool(number_directory().verify_token_matches, token):
        return PlainTextResponse(challenge)
    log.warning("webhook verification refused from %s (mode=%r)", client_ip(request), mode)
    return PlainTextResponse("verification failed", status_code=403)


async def receive_webhook(request: Request) -> Response:
    """Check size and signature, parse, and hand the delivery to its flow (each change to the organisation owning
    its number)."""
    limit = get_settings().webhook_max_bytes
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > limit:
        log.warning("webhook from %s refused: body over %d bytes", client_ip(request), limit)
        return JSONResponse({"error": "payload too large"}, status_code=413)
    chunks, size = [], 0
    async for chunk in request.stream():  # bounded read, even without a Content-Length header
        size += len(chunk)
        if size > limit:
            log.warning("webhook from %s refused: body over %d bytes", client_ip(request), limit)
            return JSONResponse({"error": "payload too large"}, status_code=413)
        chunks.append(chunk)
    body = b"".join(chunks)
    header = request.headers.get("x-hub-signature-256")
    if not header:
        log.warning("webhook from %s refused: missing X-Hub-Signature-256", client_ip(request))
        return JSONResponse({"error": "missing signature"}, status_code=401)
    try:
        payload = json.loads(body)
        named = addressees(payload)
    except (ValueError, RecursionError) as exc:
        log.warning("webhook from %s refused: malformed body (%s)", client_ip(request), exc)
        message = str(exc) if isinstance(exc, WebhookFormatError) else "malformed JSON"
        return JSONResponse({"error": message}, status_code=400)
    # The payload's numbers (or, for account-level changes, business accounts) pick the one secret that must have
    # signed it: one HMAC per delivery, never one per tenant (trying every organisation's secret cost a hash each,
    # and let any tenant's secret sign any body).
    directory = number_directory()

    def look_up() -> tuple[dict[str, NumberSecrets | None], list[NumberSecrets]]:
        by_account = [n for account in sorted(named.accounts) for n in directory.by_business_account(account)]
        return {pid: directory.by_phone_number_id(pid) for pid in sorted(named.numbers)}, by_account

    numbers, account_numbers = await run_in_threadpool(look_up)
    app_secrets = {n.app_secret for n in [*numbers.values(), *account_numbers] if n is not None}
    if len(app_secrets) > 1:
        log.warning("webhook from %s refused: one delivery names numbers of different apps (%s)", client_ip(request),
                    ", ".join(pid for pid, number in numbers.items() if number is not None))
        return JSONResponse({"error": "one delivery must name numbers of one app"}, status_code=400)
    for pid in [pid for pid, number in numbers.items() if number is None][:5]:  # a few lines, not a flood
        log.warning("webhook change for unknown phone_number_id %r: nothing stored", pid[:64])
    if not app_secrets:
        if named.changes and not named.numbers:  # account-level news of a business account not connected here:
            log.info("webhook account-level changes for unknown business accounts acknowledged, nothing read")
            return JSONResponse({"stored": 0, "duplicates": 0, "statuses": 0})  # nothing in it is stored or read
        log.warning("webhook from %s refused: it names no connected number", client_ip(request))
        return JSONResponse({"error": "no connected phone number named"}, status_code=401)
    [secret] = app_secrets
    if not signature_matches(body, header, secret):
        log.warning("webhook from %s refused: invalid X-Hub-Signature-256", client_ip(request))
        return JSONResponse({"error": "invalid signature"}, status_code=401)

    def org_of(phone: str) -> int | None:
        found = numbers.get(phone)
        return found.org_id if found is not None else None

    report = await run_in_threadpool(deliver, get_database(), payload, parse_envelope(payload), org_of)
    # Media files are fetched after the answer has gone (Meta wants a quick 200), with their own retries.
    media = report.media_pending
    background = BackgroundTask(download_now, get_database(), media) if media else None
    return JSONResponse({"stored": report.stored, "duplicates": report.duplicates,
                         "statuses": report.statuses_applied}, background=background)


ROUTES: list[Route] = [
    get("/webhooks/whatsapp", verify_webhook),
    post("/webhooks/whatsapp", receive_webhook, any_origin=True),  # Meta's servers: the signature is the check
]
