"""Per-type extraction of an inbound Cloud API message: what each kind carries, as plain data; never raises.

The webhook parser calls `extract` on every message object; anything missing or malformed gives empty
values (the raw payload is kept anyway), so a strange message still becomes a stored, rendered bubble.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Any

MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")


@dataclass(frozen=True)
class MediaRef:
    """A file the Cloud API holds for us: fetched later through GET /{version}/{media_id}."""

    media_id: str
    mime_type: str = ""
    sha256: str = ""


@dataclass(frozen=True)
class Extracted:
    text: str | None = None  # the searchable, previewable words of the message (body, caption, title...)
    content: dict[str, Any] = field(default_factory=dict)  # kind-specific details, stored encrypted
    media: MediaRef | None = None
    context_wamid: str | None = None  # the message this one quotes (a reply)
    reacts_to: str | None = None  # for reactions: the message reacted to
    forwarded: str = ""  # "", "forwarded" or "frequently"
    referral: dict[str, str] = field(default_factory=dict)  # click-to-WhatsApp ad or post


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any, limit: int = 4096) -> str:
    """A JSON scalar as text (numbers too: the fixtures send prices and coordinates as either)."""
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return ""
    return str(value)[:limit]


def _pick(source: dict[str, Any], *keys: str) -> dict[str, str]:
    return {k: v for k in keys if (v := _str(source.get(k)))}


def _media(kind: str, raw: dict[str, Any]) -> tuple[str | None, dict[str, Any], MediaRef | None]:
    item = _dict(raw.get(kind))
    content: dict[str, Any] = _pick(item, "caption", "filename", "mime_type")
    for flag in ("voice", "animated"):
        if item.get(flag) is True:
            content[flag] = True
    media_id = _str(item.get("id"), 128)
    ref = MediaRef(media_id, _str(item.get("mime_type"), 128), _str(item.get("sha256"), 128)) if media_id else None
    return content.get("caption"), content, ref


def _location(raw: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    item = _dict(raw.get("location"))
    content: dict[str, Any] = _pick(item, "name", "address", "url")
    for key in ("latitude", "longitude"):
        with contextlib.suppress(KeyError, TypeError, ValueError, OverflowError):
            number = float(item[key])
            if math.isfinite(number):
                content[key] = number
    return " ".join(filter(None, (content.get("name"), content.get("address")))) or None, content


def _contact_card(card: dict[str, Any]) -> dict[str, Any]:
    name = _dict(card.get("name"))
    full = _str(name.get("formatted_name")) or " ".join(
        filter(None, (_str(name.get(k)) for k in ("prefix", "first_name", "middle_name", "last_name", "suffix"))))
    org = _dict(card.get("org"))
    return {
        "name": full,
        "phones": [p for x in _list(card.get("phones")) if (p := _str(_dict(x).get("phone")))],
        "emails": [e for x in _list(card.get("emails")) if (e := _str(_dict(x).get("email")))],
        "urls": [u for x in _list(card.get("urls")) if (u := _str(_dict(x).get("url")))],
        "org": " · ".join(filter(None, (_str(org.get(k)) for k in ("company", "department", "title")))),
        "birthday": _str(card.get("birthday")),
        "addresses": [a for x in _list(card.get("addresses")) if (a := ", ".join(filter(None, (
            _str(_dict(x).get(k)) for k in ("street", "city", "state", "zip", "country")))))],
    }


def _interactive(raw: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    item = _dict(raw.get("interactive"))
    kind = _str(item.get("type"), 64)
    reply = _dict(item.get(kind)) if kind else {}
    content: dict[str, Any] = {"kind": kind}
    if kind in ("button_reply", "list_reply"):
        content |= _pick(reply, "id", "title", "description")
        return content.get("title"), content
    if kind == "nfm_reply":
        content |= _pick(reply, "name", "body", "response_json")
        return content.get("body"), content
    if kind == "call_permission_reply":
        content |= _pick(reply, "response", "response_source")
        return content.get("response"), content
    content |= _pick(reply, "id", "title", "body")
    return content.get("title") or content.get("body"), content


def _order(raw: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    item = _dict(raw.get("order"))
    items = [{"product": _str(i.get("product_retailer_id"), 200), "quantity": _str(i.get("quantity"), 40),
              "price": _str(i.get("item_price"), 40), "currency": _str(i.get("currency"), 40)}
             for i in map(_dict, _list(item.get("product_items")))]
    return _str(item.get("text")) or None, {"catalog_id": _str(item.get("catalog_id"), 200), "items": items}


def _errors(raw: dict[str, Any]) -> list[dict[str, str]]:
    return [_pick(_dict(e), "code", "title", "message", "details") for e in _list(raw.get("errors"))[:5]]


def _kind(msg_type: str, raw: dict[str, Any]) -> tuple[str | None, dict[str, Any], MediaRef | None, str | None]:
    """(text, content, media, reacts_to) of one message type."""
    if msg_type == "text":
        return _str(_dict(raw.get("text")).get("body")) or None, {}, None, None
    if msg_type in MEDIA_TYPES:
        return (*_media(msg_type, raw), None)
    if msg_type == "location":
        return (*_location(raw), None, None)
    if msg_type == "contacts":
        cards = [_contact_card(_dict(c)) for c in _list(raw.get("contacts"))[:20]]
        return " ".join(c["name"] for c in cards if c["name"]) or None, {"contacts": cards}, None, None
    if msg_type == "interactive":
        return (*_interactive(raw), None, None)
    if msg_type == "button":
        content = _pick(_dict(raw.get("button")), "text", "payload")
        return content.get("text"), content, None, None
    if msg_type == "reaction":
        item = _dict(raw.get("reaction"))
        return None, {"emoji": _str(item.get("emoji"), 32)}, None, _str(item.get("message_id"), 200) or None
    if msg_type == "order":
        return (*_order(raw), None, None)
    if msg_type == "system":
        content = _pick(_dict(raw.get("system")), "body", "type", "wa_id", "customer")
        return content.get("body"), content, None, None
    if msg_type in ("revoke", "edit"):
        item = _dict(raw.get(msg_type))
        content = _pick(item, "original_message_id")
        edited = _dict(item.get("message"))
        inner_type = _str(edited.get("type"), 32)
        if inner_type and inner_type not in ("edit", "revoke"):
            content |= {"type": inner_type, "text": _kind(inner_type, edited)[0] or ""}
        return content.get("text") or None, content, None, None
    content = {"type": _str(_dict(raw.get("unsupported")).get("type"), 64)} if msg_type == "unsupported" else {}
    return None, content, None, None


def extract(msg_type: str, raw: dict[str, Any]) -> Extracted:
    """Everything a message of `msg_type` carries; unknown types keep their errors (type + title shown)."""
    text, content, media, reacts_to = _kind(msg_type, raw)
    errors = _errors(raw)
    if errors:
        content = {**content, "errors": errors}
    context = _dict(raw.get("context"))
    forwarded = "frequently" if context.get("frequently_forwarded") is True else (
        "forwarded" if context.get("forwarded") is True else "")
    referral = _pick(_dict(raw.get("referral")), "source_url", "source_id", "source_type", "headline", "body",
                     "media_type", "ctwa_clid")
    return Extracted(text=text, content=content, media=media, context_wamid=_str(context.get("id"), 200) or None,
                     reacts_to=reacts_to, forwarded=forwarded, referral=referral)
