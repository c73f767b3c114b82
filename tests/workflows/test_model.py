"""Delays: calendar time, and business days counted in sending windows (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from chronoq import Chain, ConfigurationError, Step, Window, fan_out
from chronoq.workflows.model import Delay, Plan, business_due_ms

PARIS = ZoneInfo("Europe/Paris")
WEEKDAYS = (Window.parse("mon-fri 09:00-17:00"),)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def local(text: str, zone: ZoneInfo = PARIS) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def test_calendar_delays_add_their_seconds() -> None:
    delay = Delay.parse("2d")
    assert delay is not None and delay.seconds == 2 * 86400
    assert delay.due_ms(1_000, (), UTC) == 1_000 + 2 * 86_400_000
    assert Delay.parse("1h30m").seconds == 5400  # type: ignore[union-attr]
    assert Delay.parse(None) is None


def test_business_days_open_at_the_window_of_the_nth_business_day() -> None:
    friday = ms(local("2026-03-06T15:00"))  # a Friday, inside the window
    assert business_due_ms(friday, 1, WEEKDAYS, PARIS) == ms(local("2026-03-09T09:00"))  # Mon
    assert business_due_ms(friday, 2, WEEKDAYS, PARIS) == ms(local("2026-03-10T09:00"))  # Tue
    saturday_night = ms(local("2026-03-07T23:30"))
    assert business_due_ms(saturday_night, 1, WEEKDAYS, PARIS) == ms(local("2026-03-09T09:00"))


def test_business_days_across_a_daylight_saving_weekend_keep_wall_clock_hours() -> None:
    # Europe moves to summer time on Sunday 2026-03-29: Monday's 09:00 is UTC+2.
    friday = ms(local("2026-03-27T16:00"))
    due = business_due_ms(friday, 1, WEEKDAYS, PARIS)
    assert datetime.fromtimestamp(due / 1000, UTC) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_business_days_in_a_half_hour_zone_and_several_windows() -> None:
    kolkata = ZoneInfo("Asia/Kolkata")
    windows = (Window.parse("mon-thu 10:00-12:00"), Window.parse("fri 08:30-11:00"))
    thursday = ms(local("2026-03-05T18:00", kolkata))
    due = business_due_ms(thursday, 1, windows, kolkata)
    assert due == ms(local("2026-03-06T08:30", kolkata))
    assert datetime.fromtimestamp(due / 1000, UTC) == datetime(2026, 3, 6, 3, 0, tzinfo=UTC)


def test_a_plan_dates_each_stage_from_its_predecessors_end() -> None:
    chain = Chain(
        [Step("a"), Step("b", after="2 business days"), fan_out("c", after="30s")],
        windows=["mon-fri 09:00-17:00"], zone="Europe/Paris",
    )  # fmt: skip
    plan = Plan.of(chain.to_wire())
    friday = ms(local("2026-03-06T15:00"))
    (node,) = plan.nodes(1, 5, friday, first=False).values()
    assert node["due"] == ms(local("2026-03-10T09:00"))
    branches = plan.nodes(2, ["x", "y"], friday, first=False)
    assert sorted(branches) == ["2.0", "2.1"]
    assert {n["due"] for n in branches.values()} == {friday + 30_000}
    with pytest.raises(ConfigurationError, match="not a list"):
        plan.nodes(2, 7, friday, first=False)


def test_business_days_need_windows_and_a_count() -> None:
    with pytest.raises(ConfigurationError, match="give the workflow windows"):
        Chain([Step("a"), Step("b", after="1 business day")]).to_wire()
    with pytest.raises(ConfigurationError, match="at least 1 business day"):
        Delay.parse("0 business days")
    with pytest.raises(ConfigurationError, match="unknown time zone"):
        Chain([Step("a")], zone="Mars/Olympus").to_wire()
