"""What a message's bubble says, per kind: pure functions of its type, body and kind-specific content."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

MEDIA_LABELS = {"image": "📷 Photo", "video": "🎥 Video", "sticker": "Sticker"}
UNSUPPORTED = "Unsupported message"


def _d(content: Any) -> dict[str, Any]:
    return content if isinstance(content, dict) else {}


def _lines(*parts: Any) -> str:
    return "\n".join(str(p) for p in parts if p)


def map_url(content: Any) -> str:
    """An OpenStreetMap link with a marker on the shared location, or "" without coordinates."""
    c = _d(content)
    lat, lon = c.get("latitude"), c.get("longitude")
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return ""
    return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=16/{lat}/{lon}"


def size_label(size: int | None) -> str:
    if not size:
        return ""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def _number(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def order_totals(items: list[dict[str, Any]]) -> dict[str, Decimal]:
    """Quantity x unit price summed per currency; items without numbers are left out."""
    totals: dict[str, Decimal] = {}
    for item in items:
        quantity, price = _number(item.get("quantity")), _number(item.get("price"))
        if quantity is not None and price is not None:
            currency = str(item.get("currency") or "")
            totals[currency] = totals.get(currency, Decimal(0)) + quantity * price
    return totals


def _media(kind: str) -> Callable[[str | None, dict[str, Any]], str]:
    def render(_body: str | None, c: dict[str, Any]) -> str:
        if kind == "audio":
            label = "🎤 Voice message" if c.get("voice") else "🎵 Audio"
        elif kind == "document":
            label = f"📄 {c.get('filename') or 'Document'}"
        else:
            label = MEDIA_LABELS[kind]
        return _lines(label, c.get("caption"))
    return render


def _location(_body: str | None, c: dict[str, Any]) -> str:
    where = f"{c['latitude']}, {c['longitude']}" if map_url(c) else ""
    return _lines("📍 " + (c.get("name") or "Location"), c.get("address"), where)


def _contacts(_body: str | None, c: dict[str, Any]) -> str:
    cards = [_d(x) for x in c.get("contacts") or []]
    return "\n".join(
        "👤 " + " · ".join(filter(None, [card.get("name") or "Contact", *card.get("phones", []),
                                        *card.get("emails", []), card.get("org", "")]))
        for card in cards
    ) or "👤 Contact card (empty)"


def _interactive(_body: str | None, c: dict[str, Any]) -> str:
    kind = c.get("kind")
    if kind == "button_reply":
        return f"Tapped button: {c.get('title', '')}"
    if kind == "list_reply":
        return "Chose: " + " — ".join(filter(None, (c.get("title"), c.get("description"))))
    if kind == "nfm_reply":
        return f"Form sent: {c.get('body') or c.get('name') or ''}".strip()
    if kind == "call_permission_reply":
        return f"Call permission: {c.get('response', '')}"
    if kind == "reply_buttons":  # sent by an agent (whatsapp/outbox.py)
        return _lines(c.get("body"), " · ".join(f"[{b}]" for b in c.get("buttons") or []))
    return _lines("Interactive reply", c.get("title") or c.get("body"))


def _order(_body: str | None, c: dict[str, Any]) -> str:
    items = [_d(i) for i in c.get("items") or []]
    lines = [f"{i.get('quantity', '?')} × {i.get('product', '?')} @ {i.get('price', '?')} {i.get('currency', '')}"
             .rstrip() for i in items]
    totals = order_totals(items)
    total = "Total: " + " + ".join(f"{v:,.2f} {cur}".rstrip() for cur, v in sorted(totals.items())) if totals else ""
    return _lines(f"🛒 Order of {len(items)} item{'s' if len(items) != 1 else ''}", *lines, total, c.get("text"))


def _unsupported(msg_type: str) -> Callable[[str | None, dict[str, Any]], str]:
    def render(_body: str | None, c: dict[str, Any]) -> str:
        sub = c.get("type") or ("" if msg_type in ("unsupported", "unknown") else msg_type)
        titles = ", ".join(filter(None, (_d(e).get("title") for e in c.get("errors") or [])))
        return f"{UNSUPPORTED}{f' ({sub})' if sub else ''}{f': {titles}' if titles else ''}"
    return render


RENDERERS: dict[str, Callable[[str | None, dict[str, Any]], str]] = {
    "text": lambda body, _c: body or "",
    "template": lambda body, _c: body or "",  # sent by an agent, variables filled (whatsapp/outbox.py)
    **{kind: _media(kind) for kind in ("image", "video", "audio", "document", "sticker")},
    "location": _location,
    "contacts": _contacts,
    "interactive": _interactive,
    "button": lambda _b, c: f"Tapped quick reply: {c.get('text', '')}",
    "reaction": lambda _b, c: f"Reacted {c['emoji']}" if c.get("emoji") else "Removed a reaction",
    "order": _order,
    "system": lambda _b, c: "⚙ " + (c.get("body") or c.get("type") or "System message"),
    "revoke": lambda _b, _c: "🚫 The customer deleted a message",
    "edit": lambda _b, c: _lines("✏️ Edited a message", c.get("text")),
}


def render(msg_type: str, body: str | None, content: Any) -> tuple[str, bool]:
    """The bubble's text, and whether the type is one we show in full (else it is shown greyed)."""
    renderer = RENDERERS.get(msg_type)
    if renderer is None:
        return _unsupported(msg_type)(body, _d(content)), False
    return renderer(body, _d(content)), True


def referral_label(content: Any) -> str:
    referral = _d(_d(content).get("referral"))
    if not referral:
        return ""
    what = referral.get("source_type") or "ad"
    return " · ".join(filter(None, (f"From a click-to-WhatsApp {what}", referral.get("headline"),
                                    referral.get("source_url"))))
