"""The campaign send rules, pure: windows across daylight saving in the recipient's
zone, caps per account-local day, warm-up, per-domain caps, usage, the forecast's
sentence. Expected instants are written out by hand in UTC, not recomputed."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from chronoq import ConfigurationError
from chronoq.campaigns.pacing import (
    Pacing,
    Usage,
    Warmup,
    cap_on,
    forecast,
    next_allowed,
    plan,
    window_opening,
)


@dataclass(frozen=True)
class R:
    email: str
    zone: str | None = None


def ms(text: str) -> int:
    """'2026-10-31 13:00' (UTC) as epoch ms."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def utc(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


# -- the models -------------------------------------------------------------------


def test_bad_pacing_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError, match=r"windows\[1\]: bad window 'mon-fri 9-17'"):
        Pacing(windows=["09:00-17:00", "mon-fri 9-17"])
    with pytest.raises(ValidationError, match=r"warmup\.start"):
        Pacing.model_validate({"warmup": {"start": 0, "step": 1}})
    with pytest.raises(ValidationError, match=r"per_domain_per_day"):
        Pacing(per_domain_per_day=0)
    with pytest.raises(ValidationError, match=r"extra_forbidden"):
        Pacing.model_validate({"per_dya": 3})
    with pytest.raises(ValidationError, match=r"warmup\.every_days"):
        Pacing.model_validate({"warmup": {"start": 1, "step": 1, "every_days": 0}})
    pacing = Pacing.model_validate_json('{"windows": ["mon-fri 09:00-17:00"], "per_day": 5}')
    assert pacing.per_day == 5 and pacing.warmup is None


def test_bad_recipients_and_zones_are_refused() -> None:
    pacing = Pacing()
    with pytest.raises(ConfigurationError, match="bad recipient email 'nobody'"):
        plan(pacing, "UTC", [R("nobody")], 0)
    with pytest.raises(ConfigurationError, match="unknown time zone 'Mars/Base'"):
        plan(pacing, "UTC", [R("a@b.c", "Mars/Base")], 0)
    with pytest.raises(ConfigurationError, match="unknown time zone 'Nowhere'"):
        plan(pacing, "Nowhere", [], 0)


# -- warm-up --------------------------------------------------------------------


def test_the_warmup_ramp_is_capped_by_per_day() -> None:
    pacing = Pacing(per_day=35, warmup=Warmup(start=10, step=10, every_days=2))
    assert [cap_on(pacing, n) for n in range(8)] == [10, 10, 20, 20, 30, 30, 35, 35]
    assert cap_on(Pacing(per_day=7), 100) == 7
    assert cap_on(Pacing(), 3) is None
    assert cap_on(Pacing(warmup=Warmup(start=5, step=3)), 4) == 17
    with pytest.raises(ConfigurationError, match="sending_day_index"):
        cap_on(pacing, -1)


def test_the_plan_ramps_up_from_the_first_sending_day() -> None:
    pacing = Pacing(warmup=Warmup(start=2, step=1))
    now = ms("2026-12-01 12:00")
    by_day = forecast(pacing, "UTC", 10, now).by_day
    assert by_day == {date(2026, 12, 1): 2, date(2026, 12, 2): 3, date(2026, 12, 3): 4,
                      date(2026, 12, 4): 1}  # fmt: skip
    # An account that started sending two days ago is on day 2 of its ramp, and
    # what it sent today counts.
    usage = Usage(days={date(2026, 12, 1): 3}, first_day=date(2026, 11, 29))
    by_day = forecast(pacing, "UTC", 10, now, usage).by_day
    assert by_day == {date(2026, 12, 1): 1, date(2026, 12, 2): 5, date(2026, 12, 3): 4}


# -- windows across daylight saving, in the recipient's zone ------------------------

DST_WEEKENDS = {
    # New York falls back Sun 1 Nov 2026 (EDT -4 -> EST -5).
    "America/New_York": ("2026-10-30 22:00", ["2026-10-31 13:00", "2026-11-01 14:00",
                                              "2026-11-02 14:00", "2026-11-03 14:00"]),
    # London falls back Sun 25 Oct 2026 (BST +1 -> GMT).
    "Europe/London": ("2026-10-23 17:00", ["2026-10-24 08:00", "2026-10-25 09:00",
                                           "2026-10-26 09:00", "2026-10-27 09:00"]),
    # Adelaide springs forward Sun 4 Oct 2026 (ACST +9:30 -> ACDT +10:30).
    "Australia/Adelaide": ("2026-10-02 09:00", ["2026-10-02 23:30", "2026-10-03 22:30",
                                                "2026-10-04 22:30", "2026-10-05 22:30"]),
}  # fmt: skip


@pytest.mark.parametrize("zone", sorted(DST_WEEKENDS))
def test_windows_keep_their_wall_clock_hours_across_a_dst_weekend(zone: str) -> None:
    """One send a day at 09:00 local, from Saturday to Tuesday over the change."""
    start, expected = DST_WEEKENDS[zone]
    pacing = Pacing(windows=["09:00-17:00"], per_day=1)
    recipients = [R(f"r{i}@example.com") for i in range(4)]
    slots = plan(pacing, zone, recipients, ms(start))
    assert [utc(s.at_ms) for s in slots] == expected
    assert [s.email for s in slots] == [r.email for r in recipients]


def test_windows_are_read_in_each_recipients_zone_else_the_accounts() -> None:
    pacing = Pacing(windows=["mon-fri 09:00-17:00"])
    people = [R("ny@a.com", "America/New_York"), R("ld@a.com", "Europe/London"),
              R("ad@a.com", "Australia/Adelaide"), R("kol@a.com", "Asia/Kolkata"),
              R("home@a.com")]  # fmt: skip
    slots = plan(pacing, "Europe/Paris", people, ms("2026-10-30 22:00"))  # Friday night
    assert [(s.zone, utc(s.at_ms)) for s in slots] == [
        ("America/New_York", "2026-11-02 14:00"),  # Monday 09:00 EST
        ("Europe/London", "2026-11-02 09:00"),  # Monday 09:00 GMT
        ("Australia/Adelaide", "2026-11-01 22:30"),  # Monday 09:00 ACDT, Sunday UTC
        ("Asia/Kolkata", "2026-11-02 03:30"),  # Monday 09:00 IST (+5:30)
        ("Europe/Paris", "2026-11-02 08:00"),  # Monday 09:00 CET
    ]


def test_a_window_spanning_the_change_is_longer_or_shorter_by_the_change() -> None:
    pacing = Pacing(windows=["01:00-04:00"])
    # London, 25 Oct: 01:00 BST (00:00Z) to 04:00 GMT (04:00Z): four hours open.
    assert window_opening(pacing, "Europe/London", None, ms("2026-10-24 23:30")) == ms(
        "2026-10-25 00:00"
    )
    assert window_opening(pacing, "Europe/London", None, ms("2026-10-25 03:59")) == ms(
        "2026-10-25 03:59"
    )
    assert window_opening(pacing, "Europe/London", None, ms("2026-10-25 04:00")) == ms(
        "2026-10-26 01:00"
    )
    # Adelaide, 4 Oct: 01:00 ACST (3 Oct 15:30Z) to 04:00 ACDT (17:30Z): two hours.
    adelaide = "Australia/Adelaide"
    assert window_opening(pacing, "UTC", adelaide, ms("2026-10-03 15:00")) == ms("2026-10-03 15:30")
    assert window_opening(pacing, "UTC", adelaide, ms("2026-10-03 17:29")) == ms("2026-10-03 17:29")
    assert window_opening(pacing, "UTC", adelaide, ms("2026-10-03 17:30")) == ms(
        "2026-10-04 14:30"  # 01:00 ACDT the next day
    )


# -- caps per account-local day ------------------------------------------------------


def test_per_day_is_counted_at_the_accounts_local_midnight() -> None:
    pacing = Pacing(per_day=1)
    # Kolkata (+5:30): 23:59 local is 18:29Z; the next local day starts 18:30Z.
    slots = plan(pacing, "Asia/Kolkata", [R("a@x.com"), R("b@x.com")], ms("2026-12-01 18:29"))
    assert [(utc(s.at_ms), s.local_day) for s in slots] == [
        ("2026-12-01 18:29", date(2026, 12, 1)),
        ("2026-12-01 18:30", date(2026, 12, 2)),
    ]
    # New York (-5): 18:50 local is 23:50Z; UTC midnight changes nothing, local does.
    three = [R(f"{n}@x.com") for n in "abc"]
    slots = plan(Pacing(per_day=2), "America/New_York", three, ms("2026-12-01 23:50"))
    assert [utc(s.at_ms) for s in slots] == [
        "2026-12-01 23:50",
        "2026-12-01 23:50",
        "2026-12-02 05:00",
    ]
    assert {s.local_day for s in slots[:2]} == {date(2026, 12, 1)}


def test_next_allowed_is_the_first_opening_after_the_accounts_midnight() -> None:
    pacing = Pacing(windows=["mon-fri 09:00-17:00"])
    # Friday 10:00 in Kolkata; account in Paris: its next day is Saturday, the
    # recipient's next window Monday 09:00 IST.
    friday = ms("2026-12-04 04:30")
    assert next_allowed(pacing, "Europe/Paris", "Asia/Kolkata", friday) == ms("2026-12-07 03:30")
    # Account in Los Angeles, recipient in Adelaide: LA's next midnight (Thu 08:00Z)
    # is after Adelaide's Thursday window (Wed 22:30Z-Thu 06:30Z): Friday's opening.
    wednesday_la = ms("2026-12-02 20:00")
    assert next_allowed(pacing, "America/Los_Angeles", "Australia/Adelaide", wednesday_la) == ms(
        "2026-12-03 22:30"
    )


def test_the_per_domain_cap_holds_a_domain_back_not_the_others() -> None:
    pacing = Pacing(per_day=10, per_domain_per_day=2)
    people = [R(f"a{i}@A.com") for i in range(5)] + [R("b0@b.com"), R("b1@b.com")]
    slots = plan(pacing, "UTC", people, ms("2026-12-01 12:00"))
    assert [(s.email, s.local_day.day) for s in slots] == [
        ("a0@A.com", 1), ("a1@A.com", 1), ("a2@A.com", 2), ("a3@A.com", 2), ("a4@A.com", 3),
        ("b0@b.com", 1), ("b1@b.com", 1),
    ]  # fmt: skip
    # What was sent to a.com today (domains compare lowercased) counts too.
    usage = Usage(days={date(2026, 12, 1): 1}, domains={date(2026, 12, 1): {"a.com": 1}})
    slots = plan(pacing, "UTC", people[:3], ms("2026-12-01 12:00"), usage)
    assert [s.local_day.day for s in slots] == [1, 2, 2]


def test_a_full_day_goes_to_the_earliest_openings_then_the_lists_order() -> None:
    """As the grants would: who is tried first (its window opens first) sends first;
    tried at one instant, the earlier in the list."""
    pacing = Pacing(windows=["09:00-17:00"], per_day=2)
    people = [R("1@x.com", "America/New_York"), R("2@x.com", "Europe/Paris"),
              R("3@x.com", "Europe/Berlin"), R("4@x.com", "Europe/Paris")]  # fmt: skip
    slots = plan(pacing, "UTC", people, ms("2026-12-01 06:00"))
    assert [utc(s.at_ms) for s in slots] == [
        "2026-12-02 14:00", "2026-12-01 08:00", "2026-12-01 08:00", "2026-12-02 08:00"
    ]  # fmt: skip


# -- the forecast --------------------------------------------------------------------


def test_the_forecast_says_when_the_last_recipient_is_reached() -> None:
    pacing = Pacing(windows=["mon-fri 14:20-17:00"], per_day=50)
    now = ms("2026-12-01 13:20")  # Tuesday 14:20 in Paris
    result = forecast(pacing, "Europe/Paris", 400, now)
    assert result.text() == (
        "the last recipient is reached Thursday 14:20 their time (Europe/Paris), "
        "in 9 days at 50 a day"
    )
    assert len(result.slots) == 400 and result.last is result.slots[-1]
    assert list(result.by_day.values()) == [50] * 8
    assert min(result.by_day) == date(2026, 12, 1) and max(result.by_day) == date(2026, 12, 10)


def test_the_forecast_sentence_in_its_other_forms() -> None:
    now = ms("2026-12-01 12:00")  # a Tuesday
    assert forecast(Pacing(), "UTC", 0, now).text() == "no recipients to reach"
    assert forecast(Pacing(per_day=5), "UTC", 3, now).text() == (
        "the last recipient is reached Tuesday 12:00 their time (UTC), today at 3 a day"
    )
    ramp = Pacing(warmup=Warmup(start=2, step=1))
    assert forecast(ramp, "UTC", 4, now).text() == (
        "the last recipient is reached Wednesday 00:00 their time (UTC), tomorrow at 2 a day"
    )
    # Kolkata's window opens Wednesday 03:30Z: day 0 of the ramp (2), then 3, 4, 1.
    people = [R(f"{i}@x.com", "Asia/Kolkata") for i in range(10)]
    windowed = Pacing(windows=["09:00-17:00"], warmup=Warmup(start=2, step=1))
    assert forecast(windowed, "UTC", people, now).text() == (
        "the last recipient is reached Saturday 09:00 their time (Asia/Kolkata), "
        "in 4 days at 2 to 4 a day"
    )


def test_ten_thousand_recipients_across_a_hundred_accounts_plan_fast() -> None:
    """The bench (bench/campaigns/plan.py) records the time; this catches a plan
    that grew quadratic (a loaded machine still stays far below the bound)."""
    zones = ["America/New_York", "Europe/London", "Australia/Adelaide", "Asia/Kolkata", None]
    pacing = Pacing(windows=["mon-fri 09:00-17:00"], per_day=40, per_domain_per_day=5,
                    warmup=Warmup(start=10, step=10))  # fmt: skip
    accounts = [
        [R(f"u{a}.{i}@d{(a * 7 + i) % 23}.com", zones[i % 5]) for i in range(100)]
        for a in range(100)
    ]
    began = time.perf_counter()
    planned = [plan(pacing, "Europe/Paris", people, ms("2026-12-01 12:00")) for people in accounts]
    assert time.perf_counter() - began < 5.0
    assert sum(len(slots) for slots in planned) == 10_000


def test_a_window_across_the_accounts_midnight_sends_again_once_the_day_turns() -> None:
    """22:00-02:00 in Kolkata, an account in Kolkata, one a day: 22:00, then 00:00
    (the window still open on the new local day), then 00:00 the day after (that
    day's 22:00 is taken by then)."""
    pacing = Pacing(windows=["22:00-02:00"], per_day=1)
    people = [R(f"{n}@x.com") for n in "abc"]
    slots = plan(pacing, "Asia/Kolkata", people, ms("2026-12-01 12:00"))  # 17:30 IST
    assert [utc(s.at_ms) for s in slots] == [
        "2026-12-01 16:30",  # 22:00 IST, 1 Dec
        "2026-12-01 18:30",  # 00:00 IST, 2 Dec
        "2026-12-02 18:30",  # 00:00 IST, 3 Dec
    ]
    assert next_allowed(pacing, "Asia/Kolkata", None, ms("2026-12-01 16:30")) == ms(
        "2026-12-01 18:30"
    )
