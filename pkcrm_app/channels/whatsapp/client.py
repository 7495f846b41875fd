"""A small client of the WhatsApp Cloud API (Graph): send, upload media, read templates, read a number.

Every failure becomes a CloudApiError that says whether to retry (throttling, transient), to give up
(permanent, with plain words for the agent) or that the outcome is unknown (the request may have left).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import httpx

from pkcrm_app.settings import get_settings

TIMEOUT = httpx.Timeout(15.0, connect=5.0)
RETRY_CODES = {130429, 131056, 4, 80007, 1, 2, 131000, 131048, 131049}
PLAIN_REASONS = {
    131026: "The customer cannot receive this message (not on WhatsApp, an old app version, or they blocked you).",
    131047: "More than 24 hours have passed since the customer's last message: send an approved template instead.",
    131051: "WhatsApp does not support this message type.",
    131053: "WhatsApp could not process the attached file (type, size or content).",
    132000: "The template's variables do not match: the number of values is wrong.",
    132001: "This template does not exist or is not approved in this language.",
    132005: "The template text is too long once the variables are filled in.",
    132007: "The template's content breaks WhatsApp's policy.",
    132012: "A template variable has the wrong format.",
    132015: "The template is paused because of low quality.",
    132016: "The template is disabled.",
    190: "The WhatsApp access token has expired or is invalid: an admin must enter a new one in WhatsApp settings.",
    100: "WhatsApp refused the request as malformed.",
    131009: "WhatsApp refused a value in the message (a parameter is not valid).",
    131021: "The recipient is this business number itself.",
}


class Outcome(enum.StrEnum):
    RETRY = "retry"  # throttled or transient: back off and send again
    PERMANENT = "permanent"  # the message cannot go out as it is: fail it and tell the agent
    UNKNOWN = "unknown"  # the request may have reached WhatsApp (read time-out): reconcile, never blind resend


class CloudApiError(Exception):
    def __init__(self, outcome: Outcome, reason: str, *, code: int | None = None, http_status: int | None = None):
        super().__init__(reason)
        self.outcome, self.reason, self.code, self.http_status = outcome, reason, code, http_status


def classify(code: int | None, http_status: int) -> Outcome:
    """Decide on the Graph error code first, the HTTP status only when there is no code."""
    if code is not None and code in RETRY_CODES:
        return Outcome.RETRY
    if code is not None and (code in PLAIN_REASONS or 132000 <= code <= 132016):
        return Outcome.PERMANENT
    if http_status >= 500 or http_status == 429:
        return Outcome.RETRY
    return Outcome.PERMANENT


def plain_reason(code: int | None, title: str = "") -> str:
    if code in PLAIN_REASONS:
        return PLAIN_REASONS[code]
    if code is not None and 132000 <= code <= 132016:
        return "WhatsApp refused the template message (its name, language or variables)."
    return f"WhatsApp refused the message ({code}: {title})" if code is not None else f"WhatsApp refused it: {title}"


def error_from_response(response: httpx.Response) -> CloudApiError:
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    code = error.get("code") if isinstance(error.get("code"), int) else None
    title = str(error.get("message") or error.get("title") or response.reason_phrase)[:200]
    outcome = classify(code, response.status_code)
    reason = plain_reason(code, title) if outcome == Outcome.PERMANENT else f"{code or response.status_code}: {title}"
    return CloudApiError(outcome, reason, code=code, http_status=response.status_code)


@dataclass
class CloudClient:
    """One access token against one base URL and version (settings by default)."""

    access_token: str
    base: str = ""
    version: str = ""
    http: httpx.Client | None = None

    def __post_init__(self) -> None:
        settings = get_settings()
        self.base = (self.base or settings.whatsapp_api_base).rstrip("/")
        self.version = self.version or settings.whatsapp_api_version
        self._own = self.http is None
        self.http = self.http or httpx.Client(timeout=TIMEOUT)

    def close(self) -> None:
        if self._own and self.http is not None:
            self.http.close()

    def _url(self, *parts: str) -> str:
        return "/".join([self.base, self.version, *parts])

    def _request(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        assert self.http is not None
        headers = {"Authorization": f"Bearer {self.access_token}"}
        try:
            response = self.http.request(method, url, headers=headers, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise CloudApiError(Outcome.RETRY, f"could not reach WhatsApp ({type(exc).__name__})") from exc
        except httpx.TimeoutException as exc:  # the request left: WhatsApp may have acted on it
            raise CloudApiError(Outcome.UNKNOWN, f"WhatsApp did not answer in time ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise CloudApiError(Outcome.UNKNOWN, f"the connection to WhatsApp broke ({type(exc).__name__})") from exc
        if response.status_code >= 400:
            raise error_from_response(response)
        try:
            body = response.json()
        except ValueError as exc:
            raise CloudApiError(Outcome.UNKNOWN, "WhatsApp answered with something that is not JSON") from exc
        return body if isinstance(body, dict) else {}

    def send_message(self, phone_number_id: str, payload: dict[str, Any]) -> str:
        """POST /{v}/{phone-number-id}/messages; returns the wamid statuses will refer to."""
        body = self._request("POST", self._url(phone_number_id, "messages"), json=payload)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not isinstance(messages[0], dict):
            raise CloudApiError(Outcome.UNKNOWN, "WhatsApp accepted the request without a message id")
        return str(messages[0].get("id") or "")

    def upload_media(self, phone_number_id: str, data: bytes, mime_type: str, filename: str) -> str:
        """POST /{v}/{phone-number-id}/media (multipart); returns the media id."""
        body = self._request("POST", self._url(phone_number_id, "media"),
                             data={"messaging_product": "whatsapp", "type": mime_type},
                             files={"file": (filename, data, mime_type)})
        if not body.get("id"):
            raise CloudApiError(Outcome.RETRY, "WhatsApp accepted the upload without a media id")
        return str(body["id"])

    def phone_number(self, phone_number_id: str) -> dict[str, Any]:
        """GET /{v}/{phone-number-id}: display number, verified name, quality rating."""
        return self._request("GET", self._url(phone_number_id))

    def templates(self, business_account_id: str) -> list[dict[str, Any]]:
        """GET /{v}/{waba-id}/message_templates, following the paging links."""
        url: str | None = self._url(business_account_id, "message_templates")
        found: list[dict[str, Any]] = []
        params: dict[str, Any] | None = {"limit": 100}
        while url and len(found) < 5000:
            body = self._request("GET", url, params=params)
            found.extend(t for t in body.get("data", []) if isinstance(t, dict))
            paging = body.get("paging") if isinstance(body.get("paging"), dict) else {}
            url, params = (paging or {}).get("next"), None
        return found
