"""Times and money as every page writes them: stored UTC moments shown in the viewer's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from pkcrm_app.ui.format import day, day_and_time, duration, money, short_time

NOW = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)  # 01:00 on 26 Nov in Karachi (UTC+5)


def test_short_time_names_the_hour_today_the_day_this_year_and_the_year_before() -> None:
    assert short_time(datetime(2026, 11, 25, 9, 5), "UTC", NOW) == "09:05"
    assert short_time(datetime(2026, 11, 25, 9, 5), "Asia/Karachi", NOW) == "25 Nov"  # yesterday over there
    assert short_time(datetime(2026, 11, 25, 19, 30), "Asia/Karachi", NOW) == "00:30"
    assert short_time(datetime(2026, 3, 3, 9, 5), "UTC", NOW) == "3 Mar"
    assert short_time(datetime(2025, 3, 3, 9, 5), "UTC", NOW) == "3 Mar 2025"
    assert short_time(None, "UTC", NOW) == ""


def test_days_and_moments_are_in_the_viewers_zone() -> None:
    late = datetime(2027, 3, 2, 22, 15)
    assert day(late, "UTC") == "2 Mar 2027"
    assert day(late, "Asia/Karachi") == "3 Mar 2027"
    assert day(None, "UTC") == ""
    assert day_and_time(late, "Asia/Karachi") == "3 Mar 2027 03:15"


def test_durations_and_money() -> None:
    assert duration(3 * 3600 + 5 * 60 + 59) == "3 h 05 min"
    assert duration(12 * 60) == "12 min"
    assert money(Decimal("12500.4"), "PKR") == "Rs 12,500"
    assert money(0, "USD") == "$0"
    assert money(Decimal(7), "CHF") == "CHF 7"
