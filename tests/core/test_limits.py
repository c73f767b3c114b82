"""Limit definitions: parsing, refusals, and calendars across time zones and DST."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chronoq.core.errors import ConfigurationError
from chronoq.core.limits import Kind, Limit, LimitChanges, Period, Window, parse_rate, rate_limit


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


# -- windows with their own rate ------------------------------------------------


def test_windows_with_their_own_rate_keep_the_default_rate_elsewhere() -> None:
    limit = rate_limit("posts", "120/h", windows={"mon-fri 09:00-17:00": "30/h"})
    spans = limit.allowed_intervals(utc(2026, 11, 25, 12))  # a Wednesday, UTC
    slow = [s for s in spans if s[2] == 120_000]  # 30/h: one start per 120 s
    fast = [s for s in spans if s[2] == 30_000]  # 120/h
    assert [ms(utc(2026, 11, 25, 9)), ms(utc(2026, 11, 25, 17)), 120_000] in slow
    assert [ms(utc(2026, 11, 25, 17)), ms(utc(2026, 11, 26, 9)), 30_000] in fast
    # the weekend has no window: one span at the default rate from Friday 17:00 on
    assert [ms(utc(2026, 11, 27, 17)), ms(utc(2026, 11, 30, 9)), 30_000] in fast
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


def test_windows_with_their_own_rate_across_a_daylight_saving_change() -> None:
    """New York springs forward on Sunday 8 March 2026: business hours start at
    14:00 UTC on Friday the 6th and at 13:00 UTC on Monday the 9th."""
    limit = rate_limit(
        "posts",
        "60/h",
        windows={"mon-fri 09:00-17:00": "10/h", "sat,sun 00:00-24:00": "forbid"},
        tz="America/New_York",
    )
    spans = limit.allowed_intervals(utc(2026, 3, 6, 12))
    assert [ms(utc(2026, 3, 6, 14)), ms(utc(2026, 3, 6, 22)), 360_000] in spans  # EST
    assert [ms(utc(2026, 3, 9, 13)), ms(utc(2026, 3, 9, 21)), 360_000] in spans  # EDT
    # Friday evening runs at the default rate until the weekend closes it at
    # midnight local (05:00 UTC); it reopens at midnight Monday (04:00 UTC, EDT).
    assert [ms(utc(2026, 3, 6, 22)), ms(utc(2026, 3, 7, 5)), 60_000] in spans
    assert [ms(utc(2026, 3, 9, 4)), ms(utc(2026, 3, 9, 13)), 60_000] in spans
    weekend = (ms(utc(2026, 3, 7, 5)), ms(utc(2026, 3, 9, 4)))
    assert not [s for s in spans if s[0] < weekend[1] and s[1] > weekend[0]]


def test_the_first_window_listed_decides_where_windows_overlap() -> None:
    limit = rate_limit("x", "60/min", windows={"10:00-11:00": "forbid", "09:00-12:00": "6/min"})
    spans = limit.allowed_intervals(utc(2026, 11, 25, 12))
    day = [s for s in spans if ms(utc(2026, 11, 25, 8)) <= s[0] < ms(utc(2026, 11, 25, 13))]
    assert day == [
        [ms(utc(2026, 11, 25, 9)), ms(utc(2026, 11, 25, 10)), 10_000],
        [ms(utc(2026, 11, 25, 11)), ms(utc(2026, 11, 25, 12)), 10_000],
        [ms(utc(2026, 11, 25, 12)), ms(utc(2026, 11, 26, 9)), 1_000],
    ]


@pytest.mark.parametrize(
    ("windows", "message"),
    [
        ({"mon-fri 09:00-17:00": "fast"}, "bad rule 'fast' for window"),
        ({"mon-fri 09:00-17:00": "0/h"}, "bad rate '0/h'"),
        ({"someday 09:00-17:00": "30/h"}, "bad days"),
        ("mon-fri 09:00-17:00", "a list of windows or a mapping"),
    ],
)
def test_bad_window_rules_are_refused_naming_them(windows: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        rate_limit("x", "60/min", windows=windows)  # type: ignore[arg-type]


def test_window_rates_round_trip_and_older_limits_keep_their_fingerprint() -> None:
    limit = rate_limit(
        "x", "60/min", windows={"mon-fri 09:00-17:00": "30/h", "sat,sun 00:00-24:00": "forbid"}
    )
    again = Limit.from_dict(limit.to_dict())
    assert again == limit
    assert [str(r) for r in again.window_rates] == [
        "mon,tue,wed,thu,fri 09:00-17:00=30/hour",
        "sat,sun 00:00-24:00=forbid",
    ]
    plain = Limit("api", 10, Period.SECOND)
    assert "window_rates" not in plain.to_dict()  # declared limits are not re-stored on upgrade


def test_limit_changes_keep_what_they_do_not_name() -> None:
    limit = rate_limit("x", "60/min", burst=3, windows=["mon-fri 09:00-17:00"], tz="Europe/Paris")
    changed = LimitChanges(rate="10/s").apply(limit)
    assert (changed.limit, changed.period, changed.burst, changed.tz) == (
        10,
        Period.SECOND,
        3,
        "Europe/Paris",
    )
    assert changed.windows == limit.windows
    rated = LimitChanges(windows={"09:00-17:00": "1/min"}).apply(limit)
    assert rated.windows == () and len(rated.window_rates) == 1
    assert LimitChanges(windows=()).apply(rated).allowed_intervals(utc(2026, 1, 1)) == []
