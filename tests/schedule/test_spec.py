"""Cron and interval specs across daylight-saving changes, in five kinds of zone.

Each case lists the expected runs as local wall-clock times with their UTC offsets,
so a wrong offset (a run an hour off) fails as surely as a missing or doubled run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

import pytest

from chronoq.core.errors import ConfigurationError
from chronoq.core.zones import zone
from chronoq.schedule.spec import Cron, Every, parse_duration, parse_spec, upcoming


def runs(spec: str, tz_name: str, after_local: str, n: int) -> list[str]:
    tz = ZoneInfo(tz_name)
    after = datetime.fromisoformat(after_local).replace(tzinfo=tz).astimezone(UTC)
    return [d.astimezone(tz).isoformat() for d in islice(upcoming(parse_spec(spec), tz, after), n)]


CASES = [
    # America/New_York: spring forward 2026-03-08 02:00 -> 03:00, fall back 11-01 02:00 -> 01:00
    ("30 2 * * *", "America/New_York", "2026-03-07T12:00",
     ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]),  # gap: first instant after
    ("30 1 * * *", "America/New_York", "2026-10-31T12:00",
     ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]),  # repeated: first only
    ("0 * * * *", "America/New_York", "2026-11-01T00:30",
     ["2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"]),
    ("0 * * * *", "America/New_York", "2026-03-08T00:30",
     ["2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"]),
    ("0 9 * * 1-5", "America/New_York", "2026-03-06T10:00",  # weekdays 09:00 across the change
     ["2026-03-09T09:00:00-04:00", "2026-03-10T09:00:00-04:00"]),
    # Europe/London: 2026-03-29 01:00 -> 02:00, 2026-10-25 02:00 -> 01:00
    ("30 1 * * *", "Europe/London", "2026-03-28T12:00",
     ["2026-03-29T02:00:00+01:00", "2026-03-30T01:30:00+01:00"]),
    ("30 1 * * *", "Europe/London", "2026-10-24T12:00",
     ["2026-10-25T01:30:00+01:00", "2026-10-26T01:30:00+00:00"]),
    ("*/30 * * * *", "Europe/London", "2026-10-25T00:45",
     ["2026-10-25T01:00:00+01:00", "2026-10-25T01:30:00+01:00",
      "2026-10-25T01:00:00+00:00", "2026-10-25T01:30:00+00:00", "2026-10-25T02:00:00+00:00"]),
    # Australia/Lord_Howe: 30-minute shifts; 2026-04-05 02:00 -> 01:30, 2026-10-04 02:00 -> 02:30
    ("15 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00",
     ["2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"]),
    ("45 1 * * *", "Australia/Lord_Howe", "2026-04-04T12:00",
     ["2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"]),
    ("*/15 * * * *", "Australia/Lord_Howe", "2026-04-05T01:40",
     ["2026-04-05T01:45:00+11:00", "2026-04-05T01:30:00+10:30",
      "2026-04-05T01:45:00+10:30", "2026-04-05T02:00:00+10:30"]),
    # Asia/Kolkata: no daylight saving, a half-hour offset
    ("30 2 * * *", "Asia/Kolkata", "2026-03-07T12:00",
     ["2026-03-08T02:30:00+05:30", "2026-03-09T02:30:00+05:30"]),
    # Across the date line: Kiritimati (UTC+14) and Apia (UTC+13) run at their own midnight
    ("0 0 * * *", "Pacific/Kiritimati", "2026-12-31T12:00",
     ["2027-01-01T00:00:00+14:00", "2027-01-02T00:00:00+14:00"]),
    ("0 0 1 1 *", "Pacific/Apia", "2026-06-01T00:00", ["2027-01-01T00:00:00+13:00"]),
    # Vixie/Debian: day-of-month and day-of-week both restricted combine with OR
    ("0 0 13 * 5", "UTC", "2026-02-01T00:00",
     ["2026-02-06T00:00:00+00:00", "2026-02-13T00:00:00+00:00", "2026-02-20T00:00:00+00:00"]),
    # Seconds first; L and # as cronsim supports them
    ("*/20 * * * * *", "UTC", "2026-01-01T00:00:00",
     ["2026-01-01T00:00:20+00:00", "2026-01-01T00:00:40+00:00", "2026-01-01T00:01:00+00:00"]),
    ("0 0 L * *", "UTC", "2026-02-01T00:00", ["2026-02-28T00:00:00+00:00"]),
    ("0 12 * * 5#2", "UTC", "2026-01-01T00:00", ["2026-01-09T12:00:00+00:00"]),
    ("@daily", "Europe/Paris", "2026-03-28T12:00",
     ["2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00"]),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "tz", "after", "expected"), CASES)
def test_cron_runs_in_its_zone(spec: str, tz: str, after: str, expected: list[str]) -> None:
    assert runs(spec, tz, after, len(expected)) == expected


def test_a_run_time_itself_is_not_after_itself() -> None:
    tz = ZoneInfo("UTC")
    at_nine = datetime(2026, 5, 1, 9, tzinfo=UTC)
    spec = parse_spec("0 9 * * *")
    assert isinstance(spec, Cron)
    assert spec.next_after(at_nine, tz) == at_nine + timedelta(days=1)


def test_every_is_absolute_time_across_daylight_saving() -> None:
    spec = parse_spec("@every 1h30m")
    assert isinstance(spec, Every) and spec.interval == timedelta(hours=1, minutes=30)
    tz = ZoneInfo("America/New_York")
    anchor = datetime(2026, 11, 1, 0, 0, tzinfo=tz).astimezone(UTC)
    got = list(islice(upcoming(spec, tz, anchor, anchor=anchor), 3))
    gaps = [(b - a).total_seconds() for a, b in zip([anchor, *got], got, strict=False)]
    assert gaps == [5400.0, 5400.0, 5400.0]  # although the wall clock fell back an hour


def test_every_keeps_its_phase_from_the_anchor() -> None:
    spec = parse_spec("@every 15m")
    assert isinstance(spec, Every)
    anchor = datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    after = datetime(2026, 1, 1, 3, 21, 7, tzinfo=UTC)
    assert spec.next_after(after, anchor) == datetime(2026, 1, 1, 3, 35, tzinfo=UTC)
    exactly = datetime(2026, 1, 1, 3, 35, tzinfo=UTC)
    assert spec.next_after(exactly, anchor) == datetime(2026, 1, 1, 3, 50, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("15m", 900), ("2h", 7200), ("1h30m", 5400), ("1d", 86400), ("500ms", 0.5)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty schedule spec"),
        ("61 * * * *", "bad cron spec '61 \\* \\* \\* \\*': Bad minute"),
        ("0 25 * * *", "Bad hour"),
        ("0 0 32 * *", "Bad day-of-month"),
        ("0 0 * 13 *", "Bad month"),
        ("0 0 * * 8", "Bad day-of-week"),
        ("* * * *", "has 4 fields; expected 5"),
        ("@fortnightly", "unknown macro '@fortnightly'"),
        ("@every 0s", "positive duration"),
        ("@every -5m", "bad duration"),
        ("@every", "bad duration"),
        ("@every 5 parsecs", "bad duration"),
    ],
)
def test_bad_specs_name_the_problem(spec: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_spec(spec)


def test_unknown_zone_is_named() -> None:
    with pytest.raises(ConfigurationError, match="unknown time zone 'Mars/Olympus'"):
        zone("Mars/Olympus")
    assert zone("Asia/Kolkata").key == "Asia/Kolkata"


def test_macros_expand() -> None:
    assert parse_spec("@hourly") == Cron("0 * * * *", "@hourly")
    assert parse_spec("@WEEKLY") == Cron("0 0 * * 0", "@WEEKLY")
