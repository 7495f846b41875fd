"""Inbound media through the Cloud API media flow: look the media id up, fetch the file with the number's token,
check it against the Cloud API's size and type limits and its sha256. No database here (see media_jobs.py)."""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass

import httpx

log = logging.getLogger("pkcrm.media")
TIMEOUT = httpx.Timeout(30.0, connect=5.0)
MB = 1024 * 1024
DOCUMENT_TYPES = frozenset({
    "text/plain", "text/csv", "application/pdf", "application/msword", "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint", "application/rtf", "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
})
# kind -> (accepted MIME types, largest file in bytes), as the Cloud API's supported-media table lists them.
LIMITS: dict[str, tuple[frozenset[str], int]] = {
    "image": (frozenset({"image/jpeg", "image/png"}), 5 * MB),
    "video": (frozenset({"video/mp4", "video/3gpp"}), 16 * MB),
    "audio": (frozenset({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}), 16 * MB),
    "document": (DOCUMENT_TYPES, 100 * MB),
    "sticker": (frozenset({"image/webp"}), 500 * 1024),  # animated; a static sticker: 100 KB
}
STATIC_STICKER_BYTES = 100 * 1024
REFUSALS = {401: "the access token was refused", 403: "this number may not fetch it", 404: "the file is gone"}


class MediaError(Exception):
    """Fetching failed: `transient` ones are retried with back-off, the others fail the media for good."""

    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.transient = reason, transient


@dataclass(frozen=True)
class FetchedMedia:
    data: bytes
    mime_type: str


def base_mime(mime_type: str) -> str:
    """'audio/ogg; codecs=opus' -> 'audio/ogg'."""
    return mime_type.split(";")[0].strip().lower()


def limit_for(kind: str, animated: bool = False) -> int:
    if kind == "sticker" and not animated:
        return STATIC_STICKER_BYTES
    return LIMITS.get(kind, (frozenset(), 0))[1]


def check_limits(kind: str, mime_type: str, size: int | None, *, animated: bool = False) -> None:
    """Refuse what the Cloud API would not carry for this kind of message."""
    if kind not in LIMITS:
        raise MediaError(f"{kind} messages carry no file we keep")
    accepted, _ = LIMITS[kind]
    if base_mime(mime_type) not in accepted:
        raise MediaError(f"a {kind} of type {base_mime(mime_type) or 'unknown'} is not accepted")
    limit = limit_for(kind, animated)
    if size is not None and size > limit:
        raise MediaError(f"the file is {size / MB:.1f} MB, over the {limit / MB:.1f} MB limit for a {kind}")


def sha256_matches(expected: str, data: bytes) -> bool:
    """The Cloud API names the hash in base64 (webhooks) or hex (media lookups); empty means unchecked."""
    if not expected:
        return True
    digest = hashlib.sha256(data).digest()
    return expected.strip().lower() == digest.hex() or expected.strip() == base64.b64encode(digest).decode()


def _raise_for(response: httpx.Response, step: str) -> None:
    if response.status_code < 400:
        return
    if response.status_code == 429 or response.status_code >= 500:
        raise MediaError(f"WhatsApp answered {response.status_code} while {step}", transient=True)
    try:  # the API's own words go to the log; people see the step and the status only
        detail = str(response.json().get("error", {}).get("message", ""))[:200]
    except (ValueError, AttributeError):
        detail = ""
    log.info("media download refused while %s: HTTP %s %s", step, response.status_code, detail)
    why = REFUSALS.get(response.status_code)
    raise MediaError(f"WhatsApp refused {step} (HTTP {response.status_code}{': ' + why if why else ''})")


def fetch(client: httpx.Client, *, base_url: str, version: str, token: str, media_id: str, kind: str,
          expected_sha256: str = "", animated: bool = False) -> FetchedMedia:
    """GET /{version}/{media_id} for the short-lived URL, then GET it, both with the bearer token."""
    headers = {"Authorization": f"Bearer {token}"}
    try:
        lookup = client.get(f"{base_url}/{version}/{media_id}", headers=headers, timeout=TIMEOUT)
        _raise_for(lookup, "looking the media up")
        try:
            meta = lookup.json()
        except ValueError:
            raise MediaError("the media lookup did not answer JSON", transient=True) from None
        url = meta.get("url") if isinstance(meta, dict) else None
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise MediaError("the media lookup gave no download URL")
        mime_type = str(meta.get("mime_type") or "")
        declared = meta.get("file_size")
        size = int(declared) if isinstance(declared, int | str) and str(declared).isdigit() else None
        check_limits(kind, mime_type, size, animated=animated)
        limit = limit_for(kind, animated)
        chunks, received = [], 0
        with client.stream("GET", url, headers=headers, timeout=TIMEOUT) as response:
            if response.status_code >= 400:
                response.read()
            _raise_for(response, "sending the file")
            for chunk in response.iter_bytes():
                received += len(chunk)
                if received > limit:
                    raise MediaError(f"the file is over the {limit / MB:.1f} MB limit for a {kind}")
                chunks.append(chunk)
    except httpx.TransportError as exc:
        log.info("media download could not reach WhatsApp: %s: %s", type(exc).__name__, exc)
        raise MediaError("WhatsApp could not be reached", transient=True) from None
    data = b"".join(chunks)
    if not sha256_matches(str(meta.get("sha256") or expected_sha256), data):
        raise MediaError("the file does not match its sha256 checksum", transient=True)  # e.g. cut short
    return FetchedMedia(data=data, mime_type=base_mime(mime_type))
