"""The scraping sources' registry against a real worker and the local platform:
priorities as stored schedules (high every 2 hours, regular every 12) whose runs
scrape the source; requests per hour with a burst and a minimum delay, measured at
the server; respectful hours with a slower rate in the source's own zone; a 429 or
503 on a page (Retry-After in both forms) rescheduling the fetch and lowering the
source's rate; conditional GET by Last-Modified alone, and validators dropped when
a page stops sending them; robots.txt cached as long as RFC 9309 allows."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis

from chronoq import App, Client, JobStatus, Permanent, RetryAfter, Task
from chronoq.connectors.http import PoliteFetcher, Priority, Source, Sources
from tests.connectors.http.server import ETAG, LAST_MODIFIED, Platform, http_date
from tests.worker.helpers import running_worker, wait_until

AGENT = "TestBot/1.0 (+https://example.org/bot)"
HOUR = timedelta(hours=1)


def scrape_task(app: App, fetcher: PoliteFetcher) -> Task:
    @app.task(name="scrape", rate_limit="source:{source}", max_retries=0)
    async def scrape(source: str, path: str = "/page/home") -> int:
        return (await fetcher.fetch(source, path)).status

    return scrape


@pytest.fixture
async def registry(app: App, platform: Platform) -> AsyncIterator[tuple[Sources, PoliteFetcher]]:
    sources = Sources()
    fetcher = PoliteFetcher(app, sources, user_agent=AGENT)
    yield sources, fetcher
    await fetcher.aclose()


async def test_priorities_are_schedules_every_2_and_12_hours_that_scrape_the_source(
    app: App, client: Client, platform: Platform, registry: tuple[Sources, PoliteFetcher]
) -> None:
    sources, fetcher = registry
    sources.add(Source("hot", platform.url, priority=Priority.HIGH))
    sources.add(Source("slow", platform.url))  # regular by default
    sources.add(Source("odd", platform.url, priority="high", every="30m"))
    scrape = scrape_task(app, fetcher)
    declared = sources.declare(app, scrape)
    assert sorted(d.name for d in declared) == ["scrape:hot", "scrape:odd", "scrape:slow"]
    async with running_worker(app, concurrency=2), app.schedules() as schedules:

        async def stored() -> bool:
            return len(await schedules.list()) == 3

        await wait_until(stored, timeout=15)
        start = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
        for name, every in (("scrape:hot", 2), ("scrape:slow", 12), ("scrape:odd", 0.5)):
            runs = await schedules.next_runs(name, 4, after=start)
            assert {b - a for a, b in itertools.pairwise(runs)} == {every * HOUR}, (name, runs)
        assert (await schedules.get("scrape:hot")).definition.kwargs == {"source": "hot"}
        run = await schedules.trigger("scrape:hot")  # a run of the schedule, now

        async def scraped() -> bool:
            return (await client.job(run.id)).status is JobStatus.SUCCEEDED

        await wait_until(scraped, timeout=20)
    assert (await client.job(run.id)).result == 200
    assert [s.path for s in platform.requests("/page")] == ["/page/home"]


async def test_requests_per_hour_and_burst_let_exactly_that_many_through(
    app: App, client: Client, platform: Platform, registry: tuple[Sources, PoliteFetcher]
) -> None:
    sources, fetcher = registry
    sources.add(Source("tiny", platform.url, requests_per_hour=1, burst=2))
    scrape = scrape_task(app, fetcher)
    sources.declare(app, scrape, schedules=False)
    jobs = [await client.enqueue(scrape, "tiny", f"/page/{n}") for n in range(5)]
    async with running_worker(app, concurrency=5):

        async def settled() -> bool:
            records = [await client.job(j.id) for j in jobs]
            done = [r for r in records if r.status is JobStatus.SUCCEEDED]
            later = [r for r in records if r.run_at and r.run_at > datetime.now(UTC) + HOUR / 2]
            return len(done) == 3 and len(later) == 2

        await wait_until(settled, timeout=20)
    assert len(platform.requests("/page")) == 3  # 1 + a burst of 2; the rest wait an hour
    waiting = [
        r for r in [await client.job(j.id) for j in jobs] if r.status is not JobStatus.SUCCEEDED
    ]
    assert [r.attempts for r in waiting] == [0, 0]  # deferred by the limit, no attempt spent


async def test_the_minimum_delay_spaces_requests_at_the_server(
    app: App, client: Client, platform: Platform, registry: tuple[Sources, PoliteFetcher]
) -> None:
    sources, fetcher = registry
    sources.add(Source("spaced", platform.url, requests_per_hour=36_000, min_delay=0.5))
    scrape = scrape_task(app, fetcher)
    sources.declare(app, scrape, schedules=False)
    jobs = [await client.enqueue(scrape, "spaced", f"/page/{n}") for n in range(4)]
    async with running_worker(app, concurrency=4):

        async def done() -> bool:
            records = [await client.job(j.id) for j in jobs]
            return all(r.status is JobStatus.SUCCEEDED for r in records)

        await wait_until(done, timeout=30)
    times = sorted(s.at for s in platform.requests("/page"))
    assert len(times) == 4
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.47, times


def _window_around_now(zone: str) -> str:
    now = datetime.now(ZoneInfo(zone))
    start, end = now - timedelta(minutes=10), now + 2 * HOUR
    return f"{start:%H:%M}-{end:%H:%M}"


async def test_respectful_hours_with_a_slower_rate_in_the_sources_zone(
    app: App, client: Client, platform: Platform, registry: tuple[Sources, PoliteFetcher]
) -> None:
    sources, fetcher = registry
    zone = "Asia/Kolkata"  # UTC+05:30: the window is read in the source's zone, not UTC
    hours = {_window_around_now(zone): "1/h"}
    sources.add(Source("kind", platform.url, requests_per_hour=36_000, tz=zone,
                       respectful_hours=hours))  # fmt: skip
    sources.add(Source("utc", platform.url, requests_per_hour=36_000,
                       respectful_hours={_window_around_now("UTC"): "1/h"}))  # fmt: skip
    scrape = scrape_task(app, fetcher)
    sources.declare(app, scrape, schedules=False)
    jobs = [await client.enqueue(scrape, "kind", f"/page/{n}") for n in range(3)]
    async with running_worker(app, concurrency=3):

        async def settled() -> bool:
            records = [await client.job(j.id) for j in jobs]
            done = [r for r in records if r.status is JobStatus.SUCCEEDED]
            later = [r for r in records if r.run_at and r.run_at > datetime.now(UTC) + HOUR / 2]
            return len(done) == 1 and len(later) == 2

        await wait_until(settled, timeout=20)
    assert len(platform.requests("/page")) == 1  # one an hour now, not 10 a second
    async with app.limits() as limits:
        kind = await limits.get("source:kind")
    assert kind.tz == zone and [r.rule_text for r in kind.window_rates] == ["1/hour"]
    # The same wall-clock window read in UTC is another window: 5.5 h apart.
    utc = sources.get("utc").limit().allowed_intervals(datetime.now(UTC))
    local = kind.allowed_intervals(datetime.now(UTC))
    assert utc != local


@pytest.mark.parametrize("form", ["seconds", "http-date"])
@pytest.mark.parametrize("status", [429, 503])
async def test_a_throttled_page_reschedules_the_fetch_by_retry_after_and_lowers_the_rate(
    app: App, platform: Platform, registry: tuple[Sources, PoliteFetcher], status: int, form: str
) -> None:
    sources, fetcher = registry
    sources.add(Source("busy", platform.url, requests_per_hour=600))
    sources.declare(app, scrape_task(app, fetcher), schedules=False)
    async with app.limits() as limits:
        await limits.set(sources.get("busy").limit())
    retry_after = "120" if form == "seconds" else http_date(datetime.now(UTC).timestamp() + 120)
    platform.throttles = [(status, retry_after)]
    with pytest.raises(RetryAfter) as caught:
        await fetcher.fetch("busy", "/page/a")
    assert 115 <= caught.value.seconds <= 121
    async with app.limits() as limits:
        assert (await limits.get("source:busy")).limit == 300  # 600/h halved
    assert (await fetcher.fetch("busy", "/page/a")).status == 200  # the platform recovered


async def test_conditional_get_by_last_modified_alone(
    platform: Platform, registry: tuple[Sources, PoliteFetcher]
) -> None:
    sources, fetcher = registry
    sources.add(Source("dated", platform.url, requests_per_hour=3600))
    assert (await fetcher.fetch("dated", "/dated")).status == 200
    second = await fetcher.fetch("dated", "/dated")
    assert second.status == 304 and second.unchanged
    first_sent, second_sent = (s.headers for s in platform.requests("/dated"))
    assert "If-Modified-Since" not in first_sent and "If-None-Match" not in second_sent
    assert second_sent["If-Modified-Since"] == LAST_MODIFIED


async def test_validators_are_dropped_when_a_page_stops_sending_them(
    platform: Platform, registry: tuple[Sources, PoliteFetcher]
) -> None:
    sources, fetcher = registry
    sources.add(Source("news", platform.url, requests_per_hour=3600))
    await fetcher.fetch("news", "/page/a")  # stores the ETag and Last-Modified
    platform.validators = False
    assert (await fetcher.fetch("news", "/page/a")).status == 200  # sent them; got a 200
    assert (await fetcher.fetch("news", "/page/a")).status == 200
    sent = [s.headers for s in platform.requests("/page")]
    assert sent[1]["If-None-Match"] == ETAG
    assert "If-None-Match" not in sent[2] and "If-Modified-Since" not in sent[2]


ROBOTS = "User-agent: *\nAllow: /\n"
DAY = 24 * 3600.0


@pytest.mark.parametrize(
    "case",
    [
        (ROBOTS, "", 0.99 * DAY, DAY),  # no max-age: 24 h
        (ROBOTS, "max-age=60", 50, 60),
        (ROBOTS, "max-age=604800", 0.99 * DAY, DAY),  # capped at 24 h (RFC 9309 2.4)
        (404, "", 0.99 * DAY, DAY),  # unavailable: allowed, kept as long
        (503, "max-age=604800", 250, 300),  # unreachable: a few minutes only
    ],
    ids=["default", "max-age", "capped", "404", "503"],
)
async def test_robots_txt_is_cached_as_long_as_rfc_9309_allows(
    raw: redis.Redis,
    prefix: str,
    platform: Platform,
    registry: tuple[Sources, PoliteFetcher],
    case: tuple[str | int, str, float, float],
) -> None:
    robots, cache_control, low, high = case
    sources, fetcher = registry
    sources.add(Source("news", platform.url, requests_per_hour=3600))
    platform.robots, platform.robots_cache_control = robots, cache_control
    for _ in range(2):
        with contextlib.suppress(Permanent):  # unreachable robots.txt: all disallowed
            await fetcher.fetch("news", "/page/a")
    assert len(platform.requests("/robots.txt")) == 1  # the second fetch read the cache
    (key,) = raw.keys(f"{prefix}:*http-robots*")
    ttl = raw.pttl(key) / 1000
    assert low <= ttl <= high, ttl
