"""How the UI writes times and money: stored in UTC, shown in the viewer's time zone; one place, so every page
agrees."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

CURRENCY_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£", "PKR": "Rs ", "INR": "₹", "AED": "AED "}


def local(moment: datetime, tz: str) -> datetime:
    """A stored (naive UTC) moment in the time zone `tz`."""
    return moment.replace(tzinfo=UTC).astimezone(ZoneInfo(tz))


def short_time(moment: datetime | None, tz: str, now: datetime | None = None) -> str:
    """'14:05' today, '3 Nov' this year, '3 Nov 2025' before, in the time zone `tz`."""
    if moment is None:
        return ""
    shown = local(moment, tz)
    today = (now or datetime.now(UTC)).astimezone(ZoneInfo(tz))
    if shown.date() == today.date():
        return shown.strftime("%H:%M")
    if shown.year == today.year:
        return f"{shown.day} {shown:%b}"
    return f"{shown.day} {shown:%b %Y}"


def day(moment: datetime | None, tz: str) -> str:
    """'3 Mar 2027' in the time zone `tz`."""
    if moment is None:
        return ""
    shown = local(moment, tz)
    return f"{shown.day} {shown:%b %Y}"


def day_and_time(moment: datetime, tz: str) -> str:
    """'25 Nov 2026 14:05' in the time zone `tz`."""
    shown = local(moment, tz)
    return f"{shown.day} {shown:%b %Y %H:%M}"


def duration(seconds: int) -> str:
    """A time still to run, to the minute: '3 h 05 min', or '12 min' under an hour."""
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def money(amount: Decimal | int, currency: str) -> str:
    """'Rs 12,500': the currency's sign (or its code) and a whole amount with thousands separators."""
    sign = CURRENCY_SIGNS.get(currency, currency + " ")
    return f"{sign}{amount:,.0f}"
