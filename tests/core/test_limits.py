"""Limit definitions: parsing, refusals, and calendars across time zones and DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chronoq.core.errors import ConfigurationError
from chronoq.core.limits import Kind, Limit, Period, Window, parse_rate


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def test_rates_and_periods_parse() -> None:
    assert parse_rate("600/min") == (600, Period.MINUTE)
    assert parse_rate("10/s") == (10, Period.SECOND)
    assert parse_rate("1000/day") == (1000, Period.DAY)
    assert parse_rate("5 / hour") == (5, Period.HOUR)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("600", "bad rate '600'"),
        ("0/min", "bad rate '0/min'"),
        ("ten/min", "bad rate 'ten/min'"),
        ("5/fortnight", "unknown period 'fortnight'"),
    ],
)
def test_bad_rates_are_refused_with_their_text(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_rate(text)


def test_windows_parse_days_ranges_and_midnight() -> None:
    w = Window.parse("mon-fri 09:00-18:00")
    assert w.days == frozenset(range(5)) and str(w) == "mon,tue,wed,thu,fri 09:00-18:00"
    assert Window.parse("sat,sun 10:00-24:00").end_of_day
    assert Window.parse("fri-mon 22:00-06:00").days == frozenset({4, 5, 6, 0})
    assert Window.parse("08:00-20:00").days == frozenset(range(7))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("weekdays 9-5", "bad window"),
        ("mon-fry 09:00-18:00", "bad days"),
        ("mon 25:00-26:00", "bad time '25:00'"),
        ("mon 09:00-09:00", "is empty"),
    ],
)
def test_bad_windows_are_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Window.parse(text)


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="invalid limit name"):
        Limit("has space", 1, Period.MINUTE)
    with pytest.raises(ConfigurationError, match="unknown time zone 'Mars/Olympus'"):
        Limit("x", 1, Period.MINUTE, tz="Mars/Olympus")
    with pytest.raises(ConfigurationError, match="per hour or per day, not per minute"):
        Limit("q", 5, Period.MINUTE, kind=Kind.QUOTA)
    with pytest.raises(ConfigurationError, match="takes no burst"):
        Limit("q", 5, Period.DAY, kind=Kind.QUOTA, burst=2)


def test_a_window_keeps_its_wall_clock_hours_across_spring_forward() -> None:
    limit = Limit("polite", 60, Period.MINUTE, windows=(Window.parse("09:00-18:00"),),
                  tz="Europe/Paris")  # fmt: skip
    spans = limit.allowed_intervals(utc(2026, 3, 28, 12))  # DST starts Sunday 29 March
    saturday, sunday = spans[1], spans[2]
    assert saturday == [ms(utc(2026, 3, 28, 8)), ms(utc(2026, 3, 28, 17))]  # UTC+1
    assert sunday == [ms(utc(2026, 3, 29, 7)), ms(utc(2026, 3, 29, 16))]  # UTC+2


def test_windows_in_a_half_hour_zone_and_across_midnight_merge() -> None:
    limit = Limit("night", 60, Period.MINUTE, windows=(Window.parse("22:00-06:00"),),
                  tz="Asia/Kolkata")  # fmt: skip
    spans = limit.allowed_intervals(utc(2026, 11, 27, 12))
    # 22:00 IST = 16:30 UTC; consecutive nights do not touch, so they stay apart
    assert [ms(utc(2026, 11, 27, 16, 30)), ms(utc(2026, 11, 28, 0, 30))] in spans
    always = Limit("all", 1, Period.SECOND, windows=(Window.parse("00:00-24:00"),))
    merged = always.allowed_intervals(utc(2026, 11, 27))
    assert len(merged) == 1  # whole days join into one span


def test_quota_periods_start_at_local_midnight_of_the_accounts_zone() -> None:
    quota = Limit("emails", 100, Period.DAY, kind=Kind.QUOTA)
    now = utc(2026, 11, 27, 12)
    kiritimati = quota.period_starts(now, "Pacific/Kiritimati")  # UTC+14
    assert kiritimati[0] == ms(utc(2026, 11, 27, 10))  # 28 Nov 00:00 local
    assert kiritimati[1] == ms(utc(2026, 11, 28, 10))
    ny = quota.period_starts(utc(2026, 11, 1, 12), "America/New_York")  # fall-back day
    assert ny[1] - ny[0] == 25 * 3600 * 1000  # that local day is 25 hours long
    assert quota.period_starts(now)[0] == ms(utc(2026, 11, 27))  # default zone: UTC


def test_hourly_quota_periods_follow_half_hour_offsets() -> None:
    quota = Limit("posts", 10, Period.HOUR, kind=Kind.QUOTA)
    starts = quota.period_starts(utc(2026, 11, 27, 12, 10), "Asia/Kolkata")
    assert starts[0] == ms(utc(2026, 11, 27, 11, 30))  # 17:00 IST
    assert starts[1] - starts[0] == 3600 * 1000


def test_definitions_round_trip_and_fingerprint() -> None:
    limit = Limit("li", 100, Period.DAY, burst=5, min_gap=30,
                  windows=(Window.parse("mon-fri 09:00-18:00"),), tz="Europe/London")  # fmt: skip
    assert Limit.from_dict(limit.to_dict()) == limit
    assert limit.fingerprint() != Limit("li", 101, Period.DAY).fingerprint()
    local = datetime.now(ZoneInfo("Europe/London")) + timedelta(days=1)
    assert limit.allowed_intervals(local)  # a weekly window always recurs in the horizon
