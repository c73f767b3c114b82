"""The runtime grant against the real Redis script (cmp_grant.lua), on a virtual
clock: windows, caps at the account's local midnight, warm-up, per-domain,
idempotency, validation, expiry; and the forecast equals the actual run."""

from __future__ import annotations

import heapq
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
import redis
from redis.exceptions import ResponseError

from chronoq import App, ConfigurationError
from chronoq.campaigns.grant import Deferred, Granted, account_usage, grant
from chronoq.campaigns.pacing import Pacing, Warmup, forecast_campaign, local_day, plan
from chronoq.redis.campaign_sends import DAY_KEEP_MS, CampaignSendStore
from chronoq.redis.keys import Keyspace
from chronoq.redis.scripts import SCRIPTS


@dataclass(frozen=True)
class R:
    email: str
    zone: str | None = None


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


@pytest.fixture
async def sends(app: App) -> AsyncIterator[CampaignSendStore]:
    async with app.backend() as backend:
        yield backend.campaign_sends


async def ask(
    sends: CampaignSendStore, pacing: Pacing, at: int, email: str = "a@x.com", *,
    account: str = "acct", account_zone: str = "UTC", zone: str | None = None,
    grant_id: str | None = None,
) -> Granted | Deferred:  # fmt: skip
    return await grant(sends, pacing, account=account, account_zone=account_zone,
                       recipient=R(email, zone), grant_id=grant_id or f"{email}:{at}",
                       now_ms=at)  # fmt: skip


async def test_a_closed_window_defers_to_its_opening_without_counting(
    sends: CampaignSendStore,
) -> None:
    pacing = Pacing(windows=["mon-fri 09:00-17:00"], per_day=1)
    friday_night = ms("2026-10-30 22:00")  # 18:00 in New York, before it falls back
    answer = await ask(sends, pacing, friday_night, zone="America/New_York")
    assert answer == Deferred(ms("2026-11-02 14:00"), "window")  # Monday 09:00 EST
    usage = await sends.usage("acct", [date(2026, 10, 30)])
    assert usage.days == {} and usage.first_day is None
    assert await ask(sends, pacing, ms("2026-11-02 14:00"), zone="America/New_York") == Granted(
        ms("2026-11-02 14:00"), date(2026, 11, 2), 1
    )


async def test_the_day_cap_resets_at_the_accounts_local_midnight(
    sends: CampaignSendStore,
) -> None:
    pacing = Pacing(per_day=1)
    kolkata = {"account_zone": "Asia/Kolkata"}
    first = await ask(sends, pacing, ms("2026-12-01 18:29"), "a@x.com", **kolkata)  # 23:59
    assert first == Granted(ms("2026-12-01 18:29"), date(2026, 12, 1), 1)
    refused = await ask(sends, pacing, ms("2026-12-01 18:29") + 30_000, "b@x.com", **kolkata)
    assert refused == Deferred(ms("2026-12-01 18:30"), "per_day")  # 00:00 IST, not UTC's
    after = await ask(sends, pacing, ms("2026-12-01 18:31"), "b@x.com", **kolkata)  # 00:01
    assert after == Granted(ms("2026-12-01 18:31"), date(2026, 12, 2), 1)
    # UTC midnight (05:30 IST) is no boundary: the same local day stays full.
    assert await ask(sends, pacing, ms("2026-12-02 00:01"), "c@x.com", **kolkata) == Deferred(
        ms("2026-12-02 18:30"), "per_day"
    )
    usage = await sends.usage("acct", [date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 3)])
    assert usage.days == {date(2026, 12, 1): 1, date(2026, 12, 2): 1}
    assert usage.domains == {date(2026, 12, 1): {"x.com": 1}, date(2026, 12, 2): {"x.com": 1}}


async def test_the_domain_cap_refuses_that_domain_only(sends: CampaignSendStore) -> None:
    pacing = Pacing(windows=["09:00-17:00"], per_day=10, per_domain_per_day=2)
    at = ms("2026-12-01 10:00")
    assert isinstance(await ask(sends, pacing, at, "a1@Big.com"), Granted)
    assert isinstance(await ask(sends, pacing, at, "a2@big.com"), Granted)
    assert await ask(sends, pacing, at, "a3@big.com") == Deferred(
        ms("2026-12-02 09:00"), "per_domain_per_day"
    )
    assert await ask(sends, pacing, at, "b1@small.com") == Granted(at, date(2026, 12, 1), 3)


async def test_the_warmup_is_evaluated_at_grant_time_from_the_first_sending_day(
    sends: CampaignSendStore, app: App
) -> None:
    pacing = Pacing(per_day=4, warmup=Warmup(start=1, step=1))
    day0 = ms("2026-12-01 12:00")
    assert isinstance(await ask(sends, pacing, day0, "a@x.com"), Granted)
    assert await ask(sends, pacing, day0, "b@x.com") == Deferred(ms("2026-12-02 00:00"), "per_day")
    # Day 2 of sending allows 3, also for a process that never granted before (its
    # store has not read the first day yet: the script says which it is).
    async with app.backend() as other:
        fresh = other.campaign_sends
        day2 = ms("2026-12-03 08:00")
        answers = [await ask(fresh, pacing, day2, f"{n}@x.com") for n in "cdef"]
        assert [type(a).__name__ for a in answers] == ["Granted"] * 3 + ["Deferred"]
        assert (await fresh.usage("acct", [])).first_day == date(2026, 12, 1)
    # Day 9: the per_day cap bounds the ramp.
    day9 = ms("2026-12-10 08:00")
    answers = [await ask(sends, pacing, day9, f"{n}@x.com") for n in "ghijk"]
    assert [type(a).__name__ for a in answers] == ["Granted"] * 4 + ["Deferred"]


async def test_a_grant_id_counts_once_even_across_midnight(sends: CampaignSendStore) -> None:
    pacing = Pacing(per_day=5)
    at = ms("2026-12-01 23:59")
    assert await ask(sends, pacing, at, grant_id="job-1") == Granted(at, date(2026, 12, 1), 1)
    again = await ask(sends, pacing, at + 1000, grant_id="job-1")
    assert again == Granted(at + 1000, date(2026, 12, 1), 1, again=True)
    # Retried after midnight (a crash, a lost lease): still counted once.
    later = ms("2026-12-02 00:01")
    assert await ask(sends, pacing, later, grant_id="job-1") == Granted(
        later, date(2026, 12, 2), 0, again=True
    )
    usage = await sends.usage("acct", [date(2026, 12, 1), date(2026, 12, 2)])
    assert usage.days == {date(2026, 12, 1): 1}


async def test_the_days_keys_expire_after_the_day(
    sends: CampaignSendStore, redis_url: str, prefix: str
) -> None:
    now = ms("2026-12-01 18:00")
    await ask(sends, Pacing(per_day=5), now, grant_id="job-1")
    keys = Keyspace(prefix).campaign_account("acct")
    conn = redis.Redis.from_url(redis_url)
    try:
        expected = ms("2026-12-02 00:00") - now + DAY_KEEP_MS
        for key in (keys.day("2026-12-01"), keys.ids("2026-12-01")):
            assert expected - 60_000 < conn.pttl(key) <= expected
        assert conn.pttl(keys.meta) > DAY_KEEP_MS
    finally:
        conn.close()


async def test_the_script_validates_before_writing(
    sends: CampaignSendStore, redis_url: str, prefix: str
) -> None:
    keys = Keyspace(prefix).campaign_account("acct")
    key_list = [keys.day("2026-12-01"), keys.ids("2026-12-01"), keys.meta, keys.ids("2026-11-30")]
    good = ["2026-12-01", "5", "x.com", "", "job", "", "1000", "1000"]
    for index, bad, message in [
        (0, "12/01/2026", "bad day"),
        (1, "-1", "bad day cap"),
        (2, "", "empty domain"),
        (3, "two", "bad domain cap"),
        (4, "", "empty grant id"),
        (5, "yesterday", "bad first day"),
        (6, "0", "bad ttl"),
    ]:
        args = list(good)
        args[index] = bad
        with pytest.raises(ResponseError, match=message):
            await SCRIPTS.cmp_grant(sends.redis, key_list, args)
    conn = redis.Redis.from_url(redis_url)
    try:
        assert conn.exists(*key_list) == 0
    finally:
        conn.close()
    with pytest.raises(ConfigurationError, match="invalid account"):
        await sends.usage("bad {account}", [])


@dataclass(frozen=True)
class Spec:
    pacing: Pacing
    timezone: str


async def test_a_forecast_counts_what_the_account_sent_today(sends: CampaignSendStore) -> None:
    spec = Spec(Pacing(per_day=3, windows=["09:00-17:00"]), "America/New_York")
    now = ms("2026-12-01 15:00")  # 10:00 in New York
    for n in range(2):
        await ask(sends, spec.pacing, now, f"{n}@x.com", account_zone=spec.timezone)
    usage = await account_usage(sends, "acct", spec.timezone, now)
    assert usage.days == {date(2026, 12, 1): 2} and usage.first_day == date(2026, 12, 1)
    result = forecast_campaign(spec, 4, now, usage)
    assert result.by_day == {date(2026, 12, 1): 1, date(2026, 12, 2): 3}
    assert result.text() == (
        "the last recipient is reached Wednesday 09:00 their time (America/New_York), "
        "tomorrow at 3 a day"
    )


# -- the forecast equals the actual run --------------------------------------------

ZONES = ["America/New_York", "Europe/London", "Australia/Adelaide", "Asia/Kolkata", None]
DOMAINS = ["gmail.com", "acme.example", "corp.example", "tiny.example"]


async def run_on_a_virtual_clock(
    sends: CampaignSendStore, pacing: Pacing, people: list[R], *, account: str, zone: str,
    start: int,
) -> dict[int, int]:  # fmt: skip
    """Every recipient's send job due at `start`; a deferred one is due again at the
    time its grant names. The clock jumps to the next due job. Returns each
    recipient's granted time."""
    due = [(start, index) for index in range(len(people))]
    heapq.heapify(due)
    granted: dict[int, int] = {}
    while due:
        now, index = heapq.heappop(due)
        answer = await ask(sends, pacing, now, people[index].email, account=account,
                           account_zone=zone, zone=people[index].zone,
                           grant_id=f"cmp:email:{people[index].email}")  # fmt: skip
        if isinstance(answer, Granted):
            assert not answer.again
            granted[index] = now
        else:
            assert answer.until_ms > now
            heapq.heappush(due, (answer.until_ms, index))
    return granted


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_the_forecast_equals_the_actual_run(sends: CampaignSendStore, seed: int) -> None:
    rng = random.Random(seed)
    people = [
        R(f"p{i}@{rng.choice(DOMAINS)}", rng.choice(ZONES)) for i in range(rng.randint(40, 70))
    ]
    pacing = Pacing(windows=["mon-fri 09:00-17:00", "sat 10:00-12:00"], per_day=9,
                    per_domain_per_day=3, warmup=Warmup(start=3, step=2))  # fmt: skip
    account, zone = f"acct-{seed}", "Europe/Paris"
    # Across the October changes (Adelaide 4 Oct, London and Paris 25 Oct, New York
    # 1 Nov), from a seeded start; the account already sent twice that day.
    start = ms("2026-09-30 00:00") + rng.randrange(0, 20 * 86_400_000)
    for n in range(2):
        await ask(sends, Pacing(), start, f"earlier{n}@gmail.com", account=account,
                  account_zone=zone)  # fmt: skip
    today = local_day(zone, start)
    usage = await sends.usage(account, [today])
    assert usage.days == {today: 2} and usage.first_day == today

    slots = plan(pacing, zone, people, start, usage)
    granted = await run_on_a_virtual_clock(
        sends, pacing, people, account=account, zone=zone, start=start
    )

    assert [slot.email for slot in slots] == [p.email for p in people]
    assert {i: slot.at_ms for i, slot in enumerate(slots)} == granted
    assert len({slot.local_day for slot in slots}) > 5  # the caps really spread the run
