"""Limit decisions in Redis: spacing, bursts, gaps, windows, quotas, back-off, changes."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis

from chronoq.control.limiter import Decision, Limiter, LimitRequest
from chronoq.core import serialization
from chronoq.core.limits import Kind, Limit, Period, Window, rate_limit
from chronoq.redis.connection import connect
from chronoq.redis.keys import Keyspace
from chronoq.redis.limits import LimitStore
from chronoq.redis.scripts import SCRIPTS


@pytest.fixture
async def limiter(redis_url: str, prefix: str) -> AsyncIterator[Limiter]:
    redis = connect(redis_url)
    yield Limiter(LimitStore(redis, Keyspace(prefix)))
    await redis.aclose()


def now_ms() -> int:
    return int(time.time() * 1000)


SLACK_MS = 2  # the script's clock is Redis TIME in ms; ours is time.time()


def assert_offsets(decisions: list[Decision], start: int, expected: list[int]) -> None:
    """Each decision is `expected` ms after the script's own "now" (0: start now). That
    now lies between `start` (read before the call) and the answer: a loaded machine
    stretches the span, so each booking is placed within it, and the spacing between
    bookings, which does not depend on it, is checked exactly."""
    end = now_ms()
    got = [d.at_ms for d in decisions]
    assert [at == 0 for at in got] == [e == 0 for e in expected], (got, expected)
    booked = [(at, e) for at, e in zip(got, expected, strict=True) if e]
    for at, e in booked:
        assert start + e - SLACK_MS <= at <= end + e + SLACK_MS, (got, expected, start, end)
    for (at, e), (next_at, next_e) in itertools.pairwise(booked):
        assert abs((next_at - at) - (next_e - e)) <= SLACK_MS, (got, expected)


async def test_starts_are_spaced_evenly_after_the_burst(limiter: Limiter) -> None:
    await limiter.store.set(Limit("api", 10, Period.SECOND, burst=2))
    start = now_ms()
    decisions = await limiter.decide("api", [LimitRequest("a")] * 6)
    assert_offsets(decisions, start, [0, 0, 0, 100, 200, 300])
    assert [d.booked for d in decisions] == [False] * 3 + [True] * 3
    other = await limiter.decide("api", [LimitRequest("b")])
    assert other[0].go  # each key has its own budget


async def test_a_now_only_request_is_told_the_time_and_books_nothing(limiter: Limiter) -> None:
    """What the HTTP API's per-token limit asks: refused starts do not push the
    key's budget further out (a client retrying at Retry-After gets in)."""
    await limiter.store.set(Limit("api", 10, Period.SECOND, burst=1))
    start = now_ms()
    decisions = await limiter.decide("api", [LimitRequest("t", now_only=True)] * 5)
    assert [d.go for d in decisions] == [True, True, False, False, False]
    later = decisions[2:]
    assert not any(d.booked for d in later)
    assert len({d.at_ms for d in later}) == 1  # all told the same time: none booked
    assert start + 100 - SLACK_MS <= later[0].at_ms <= now_ms() + 100 + SLACK_MS
    await asyncio.sleep((later[0].at_ms - now_ms()) / 1000 + 0.01)
    (again,) = await limiter.decide("api", [LimitRequest("t", now_only=True)])
    assert again.go


async def test_a_now_only_quota_request_counts_nothing_when_full(limiter: Limiter) -> None:
    await limiter.store.set(Limit("daily", 1, Period.DAY, kind=Kind.QUOTA))
    first, second = await limiter.decide("daily", [LimitRequest("acct", now_only=True)] * 2)
    assert first.go and not second.go and not second.booked
    (usage,) = await limiter.store.usage("daily", ["acct"])
    assert usage.used == 1


async def test_a_minimum_gap_spaces_starts_whatever_the_rate(limiter: Limiter) -> None:
    await limiter.store.set(Limit("polite", 1000, Period.SECOND, burst=10, min_gap=0.5))
    start = now_ms()
    decisions = await limiter.decide("polite", [LimitRequest()] * 3)
    assert_offsets(decisions, start, [0, 500, 1000])


async def test_a_booked_start_is_honoured_once_due(limiter: Limiter) -> None:
    await limiter.store.set(Limit("api", 5, Period.SECOND))
    await limiter.decide("api", [LimitRequest()])
    (booked,) = await limiter.decide("api", [LimitRequest()])
    assert booked.booked and 150 <= booked.at_ms - now_ms() <= 200
    await asyncio.sleep((booked.at_ms - now_ms()) / 1000 + 0.01)
    (again,) = await limiter.decide("api", [LimitRequest(reservation_ms=booked.at_ms)])
    assert again.go  # decided once: its booking stands
    (late,) = await limiter.decide("api", [LimitRequest()])
    assert late.at_ms - booked.at_ms >= 190  # the booking was counted, not given twice


async def test_a_back_off_blocks_the_key_until_its_time(limiter: Limiter) -> None:
    await limiter.store.set(Limit("api", 100, Period.SECOND, burst=10))
    until = now_ms() + 400
    (first,) = await limiter.decide("api", [LimitRequest("k", block_until_ms=until)])
    assert first.booked and first.at_ms >= until
    (other,) = await limiter.decide("api", [LimitRequest("k")])
    assert other.at_ms >= until  # the whole key backs off
    (free,) = await limiter.decide("api", [LimitRequest("k2")])
    assert free.go


async def test_a_window_opens_at_its_wall_clock_time_in_its_zone(limiter: Limiter) -> None:
    tz = ZoneInfo("America/New_York")
    local = datetime.now(tz) + timedelta(minutes=2)
    opens = local.replace(second=0, microsecond=0)
    closes = opens + timedelta(hours=1)
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[opens.weekday()]
    text = (
        f"{days} {opens:%H:%M}-{closes:%H:%M}"
        if closes.day == opens.day
        else f"{opens:%H:%M}-24:00"
    )
    await limiter.store.set(
        Limit("hours", 60, Period.MINUTE, windows=(Window.parse(text),), tz="America/New_York")
    )
    (decision,) = await limiter.decide("hours", [LimitRequest()])
    assert decision.booked
    assert decision.at_ms == int(opens.timestamp() * 1000)  # exactly the local opening


async def test_a_quota_defers_to_the_accounts_next_local_midnight(limiter: Limiter) -> None:
    await limiter.store.set(Limit("emails", 3, Period.DAY, kind=Kind.QUOTA))
    await limiter.store.set_account_zone("acme", "Pacific/Kiritimati")
    decisions = await limiter.decide("emails", [LimitRequest("acme")] * 5)
    assert [d.go for d in decisions] == [True, True, True, False, False]
    tz = ZoneInfo("Pacific/Kiritimati")
    midnight = datetime.combine(
        datetime.now(tz).date() + timedelta(days=1), datetime.min.time(), tz
    )
    assert {d.at_ms for d in decisions[3:]} == {int(midnight.timestamp() * 1000)}
    (usage,) = await limiter.store.usage("emails")
    assert (usage.key, usage.used, usage.zone) == ("acme", 3, "Pacific/Kiritimati")
    assert usage.next_allowed == midnight.astimezone(UTC)


async def test_a_quota_rolls_over_when_its_period_ends(limiter: Limiter, prefix: str) -> None:
    """The script against a calendar whose current period ends 0.5 s from now."""
    await limiter.store.set(Limit("posts", 2, Period.DAY, kind=Kind.QUOTA))
    k = Keyspace(prefix).limit("posts")
    version = str(await limiter.store.redis.hget(k.config, "ver"))
    start = now_ms()
    day = 86_400_000
    starts = [start - 1000, start + 500, start + day, start + 2 * day]
    calendar = serialization.dumps({"s": starts, "d": ["d0", "d1", "d2"], "k": 0})

    async def decide(reservation: int = 0) -> int:
        args = [version, 1, "acct", reservation, 0, calendar, "q job"]
        (answer,) = await SCRIPTS.limit_acquire(
            limiter.store.redis, [k.config, k.state_prefix, k.keys, k.booked, k.use_prefix], args
        )
        return int(answer)

    assert [await decide(), await decide()] == [0, 0]
    booked = await decide()
    assert booked == start + 500  # the next period's first run
    await asyncio.sleep(0.55)
    assert await decide(reservation=booked) == 0  # rolled over: its booking runs
    assert await decide() == 0  # the new period has room for one more (2 per period)
    assert await decide() == start + day


async def test_a_quota_calendar_without_its_days_is_refused_before_any_write(
    limiter: Limiter,
) -> None:
    """The old calendar shape (a bare list of period starts) names no local days for
    the use history: refused, and the first request's good calendar wrote nothing."""
    await limiter.store.set(Limit("posts", 2, Period.DAY, kind=Kind.QUOTA))
    k = limiter.store.keys.limit("posts")
    version = str(await limiter.store.redis.hget(k.config, "ver"))
    start, day = now_ms(), 86_400_000
    good = serialization.dumps({"s": [start - 1, start + day], "d": ["d0"], "k": day})
    bare = serialization.dumps([start - 1, start + day])
    args = [version, 2, "a", 0, 0, good, "q 1", "b", 0, 0, bare, "q 2"]
    with pytest.raises(redis.ResponseError, match="quota calendar needs s, d and k"):
        await SCRIPTS.limit_acquire(
            limiter.store.redis, [k.config, k.state_prefix, k.keys, k.booked, k.use_prefix], args
        )
    assert await limiter.store.redis.exists(k.state("a"), k.use("d0"), k.keys) == 0


async def test_a_change_applies_at_once_and_releases_bookings(
    limiter: Limiter, prefix: str
) -> None:
    await limiter.store.set(Limit("slow", 1, Period.MINUTE))
    decisions = await limiter.decide("slow", [LimitRequest(ref=f"default j{i}") for i in range(3)])
    assert [d.go for d in decisions] == [True, False, False]
    k = Keyspace(prefix).limit("slow")
    assert await limiter.store.redis.zcard(k.booked) == 2
    await limiter.store.set(Limit("slow", 100, Period.SECOND))
    assert await limiter.store.redis.zcard(k.booked) == 0  # released: those jobs decide again
    start = now_ms()
    again = await limiter.decide("slow", [LimitRequest()] * 3)
    assert_offsets(again, start, [0, 10, 20])  # the new rate, at once


async def test_an_unknown_limit_lets_jobs_run_and_a_removed_one_too(limiter: Limiter) -> None:
    assert (await limiter.decide("nope", [LimitRequest()]))[0].go
    await limiter.store.set(Limit("gone", 1, Period.DAY))
    await limiter.decide("gone", [LimitRequest()])
    await limiter.store.remove("gone")
    assert (await limiter.decide("gone", [LimitRequest()]))[0].go


async def test_limits_are_listed_and_shown(limiter: Limiter) -> None:
    await limiter.store.set(Limit("b", 5, Period.MINUTE))
    await limiter.store.set(Limit("a", 7, Period.HOUR, burst=1, min_gap=2))
    assert [limit.name for limit in await limiter.store.all()] == ["a", "b"]
    assert (await limiter.store.get("a")).min_gap == 2
    start = now_ms()
    decisions = await limiter.decide("b", [LimitRequest("x")] * 7)
    minute = start // 60_000
    in_this_minute = sum(1 for d in decisions if (d.at_ms or start) // 60_000 == minute)
    (usage,) = await limiter.store.usage("b")
    assert (usage.key, usage.used, usage.limit) == ("x", in_this_minute, 5)
    assert usage.next_allowed >= datetime.fromtimestamp(decisions[-1].at_ms / 1000 + 12, UTC)


def _window_around_now(tz: ZoneInfo, minutes: int) -> str:
    """A window from the last full minute to `minutes` later, in local time (one
    that would cross local midnight ends there instead)."""
    opens = datetime.now(tz).replace(second=0, microsecond=0)
    closes = opens + timedelta(minutes=minutes)
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[opens.weekday()]
    end = f"{closes:%H:%M}" if closes.date() == opens.date() else "24:00"
    return f"{day} {opens:%H:%M}-{end}"


async def test_a_window_with_its_own_rate_spaces_starts_by_that_rate(limiter: Limiter) -> None:
    tz = ZoneInfo("Asia/Tokyo")
    slow = _window_around_now(tz, 30)
    await limiter.store.set(rate_limit("posts", "100/s", windows={slow: "2/s"}, tz="Asia/Tokyo"))
    start = now_ms()
    decisions = await limiter.decide("posts", [LimitRequest("k")] * 3)
    assert_offsets(decisions, start, [0, 500, 1000])  # 2/s inside the window, not 100/s
    (usage,) = await limiter.store.usage("posts", ["k"])
    assert usage.next_allowed.timestamp() * 1000 >= start + 1400  # the fourth: 1.5 s on


async def test_a_forbidden_window_defers_starts_to_its_end(limiter: Limiter) -> None:
    tz = ZoneInfo("Europe/Berlin")
    closed = _window_around_now(tz, 2)
    await limiter.store.set(
        rate_limit("quiet", "10/s", windows={closed: "forbid"}, tz="Europe/Berlin")
    )
    (decision,) = await limiter.decide("quiet", [LimitRequest()])
    opens = datetime.now(tz).replace(second=0, microsecond=0) + timedelta(minutes=2)
    if closed.endswith("24:00"):
        opens = datetime.combine(opens.date(), datetime.min.time(), tz)
    assert decision.booked and decision.at_ms == int(opens.timestamp() * 1000)
    (usage,) = await limiter.store.usage("quiet")
    assert usage.next_allowed > datetime.now(UTC)  # operators see the same answer
