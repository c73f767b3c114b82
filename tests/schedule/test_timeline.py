"""Next runs with daylight-saving changes marked, runs of a range, the calendar,
and the check of a spec: pure computations over real zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chronoq.core.errors import ConfigurationError
from chronoq.schedule.model import ScheduleDef
from chronoq.schedule.timeline import (
    CALENDAR_RUNS_MAX,
    RANGE_RUNS_MAX,
    calendar,
    check_spec,
    plan_runs,
    runs_between,
)

PARIS = ZoneInfo("Europe/Paris")


def test_a_spring_forward_is_marked_on_the_first_run_after_it() -> None:
    # Paris moves from +01:00 to +02:00 on 29 March 2026 at 02:00 (02:30 never happens).
    d = ScheduleDef("night", "t", "30 2 * * *", tz="Europe/Paris")
    runs = plan_runs(d, datetime(2026, 3, 27, 12, tzinfo=UTC), 3)
    assert [r.local.isoformat() for r in runs] == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:00:00+02:00",  # the skipped wall-clock time runs after the gap
        "2026-03-30T02:30:00+02:00",
    ]
    assert [r.shift for r in runs] == [None, "forward", None]
    assert runs[1].offset_change == 3600
    assert "skipped" in runs[1].to_dict()["note"]


def test_a_fall_back_is_marked_back_and_the_repeated_hour_runs_once() -> None:
    # Paris moves back from +02:00 to +01:00 on 25 October 2026 at 03:00.
    d = ScheduleDef("night", "t", "30 2 * * *", tz="Europe/Paris")
    runs = plan_runs(d, datetime(2026, 10, 24, 12, tzinfo=UTC), 2)
    assert [r.local.isoformat() for r in runs] == [
        "2026-10-25T02:30:00+02:00",  # the first of the two 02:30s, once
        "2026-10-26T02:30:00+01:00",
    ]
    assert [r.shift for r in runs] == [None, "back"]
    body = runs[1].to_dict()
    assert body["dst_change"] == "back" and body["offset_change"] == -3600
    assert "repeated" in body["note"]


def test_the_first_run_is_compared_with_the_offset_at_the_start() -> None:
    d = ScheduleDef("weekly", "t", "0 9 * * 1", tz="Europe/Paris")
    runs = plan_runs(d, datetime(2026, 3, 28, tzinfo=UTC), 1)  # Saturday before the change
    assert runs[0].shift == "forward"


def test_next_runs_stop_when_the_schedule_ends_and_refuse_naive_times() -> None:
    end = datetime(2026, 1, 3, tzinfo=UTC)
    d = ScheduleDef("short", "t", "@daily", end=end)
    assert len(plan_runs(d, datetime(2026, 1, 1, 1, tzinfo=UTC), 10)) == 2
    with pytest.raises(ConfigurationError, match="time-zone-aware"):
        plan_runs(d, datetime(2026, 1, 1), 3)


def test_runs_between_includes_both_ends_and_bounds_the_count() -> None:
    d = ScheduleDef("hourly", "t", "@hourly")
    start = datetime(2026, 5, 1, 10, tzinfo=UTC)
    runs = runs_between(d, start, start + timedelta(hours=3))
    assert runs == [start + timedelta(hours=h) for h in range(4)]
    assert runs_between(d, start + timedelta(minutes=1), start + timedelta(minutes=59)) == []
    with pytest.raises(ConfigurationError, match=r"ends .* before it starts"):
        runs_between(d, start, start - timedelta(hours=1))
    every_second = ScheduleDef("fast", "t", "* * * * * *")
    with pytest.raises(ConfigurationError, match=f"more than {RANGE_RUNS_MAX} runs"):
        runs_between(every_second, start, start + timedelta(hours=1))


def test_the_calendar_counts_runs_per_local_day() -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)  # 14:00 in Paris, a Monday
    daily = ScheduleDef("daily", "t", "0 9 * * *", tz="Europe/Paris")  # today's has passed
    weekdays = ScheduleDef("weekdays", "t", "0 18 * * 1-5", tz="Europe/Paris")
    every = ScheduleDef("every", "t", "@every 6h", anchor=datetime(2026, 1, 1, tzinfo=UTC))
    paused = ScheduleDef("paused", "t", "@hourly", paused=True)
    cal = calendar([(daily, 0), (weekdays, 0), (every, 0), (paused, 0)], now, tz="Europe/Paris")
    assert [d.day.isoformat() for d in cal.days][:2] == ["2026-06-01", "2026-06-02"]
    first, second = cal.days[0], cal.days[1]
    assert first.runs == {"weekdays": 1, "every": 1}  # every: 18:00 UTC (20:00 in Paris)
    assert second.runs == {"daily": 1, "weekdays": 1, "every": 4}
    assert sum(d.runs.get("weekdays", 0) for d in cal.days) == 5
    assert cal.paused == ["paused"] and cal.truncated == []
    assert cal.to_dict()["days"][1]["total"] == 6


def test_the_calendar_marks_what_it_could_not_count_in_full() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    seconds = ScheduleDef("seconds", "t", "* * * * * *")
    cal = calendar([(seconds, 0)], now, days=1)
    assert cal.truncated == ["seconds"]
    assert cal.days[0].runs["seconds"] == CALENDAR_RUNS_MAX
    fast = ScheduleDef("fast", "t", "@every 1s", anchor=now)  # counted, not listed
    assert calendar([(fast, 0)], now, days=2).days[1].runs == {"fast": 86400}


def test_a_spec_check_names_the_field_at_fault() -> None:
    now = datetime(2026, 3, 28, tzinfo=UTC)
    good = check_spec("30 2 * * *", "Europe/Paris", now)
    assert good.ok and good.kind == "cron" and len(good.next_runs) == 5
    assert good.next_runs[1].shift == "forward"  # 29 March: the DST change shows
    body = good.to_dict()
    assert body["error"] is None and body["next_runs"][0]["at"] == "2026-03-28T01:30:00+00:00"
    bad_minute = check_spec("61 * * * *", "UTC", now).to_dict()
    assert not bad_minute["ok"] and bad_minute["next_runs"] == []
    assert bad_minute["error"]["field"] == "spec" and bad_minute["error"]["part"] == "minute"
    assert check_spec("* * 32 * *", "UTC", now).part == "day-of-month"
    assert check_spec("0 9 * *", "UTC", now).field == "spec"  # four fields
    zone = check_spec("@daily", "Mars/Olympus", now)
    assert (zone.ok, zone.field) == (False, "tz") and "Mars/Olympus" in (zone.error or "")
    every = check_spec("@every 90m", "UTC", now)
    assert every.kind == "every" and every.next_runs[0].at == now + timedelta(minutes=90)


def test_runs_past_the_end_of_the_calendar_are_none_not_errors() -> None:
    end_of_time = datetime(9999, 12, 31, 23, tzinfo=UTC)
    hourly = ScheduleDef("h", "t", "@every 1h", anchor=datetime(2026, 1, 1, tzinfo=UTC))
    assert plan_runs(hourly, end_of_time, 3) == []
    assert check_spec("0 0 * * *", "UTC", end_of_time).next_runs == []
    start_of_time = datetime(1, 1, 1, tzinfo=UTC)
    assert runs_between(hourly, start_of_time, start_of_time) == []
