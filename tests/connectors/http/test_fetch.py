"""Polite fetching of registered sources against the local platform: robots.txt
verdicts, Crawl-delay spacing measured at the server, conditional GET, and
respectful hours deferring the fetch."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from chronoq import App, Client, JobStatus, Permanent, RateLimited
from chronoq.connectors.http import PoliteFetcher, Source, Sources
from tests.connectors.http.server import ETAG, LAST_MODIFIED, Platform
from tests.worker.helpers import running_worker, wait_until

AGENT = "TestBot/1.0 (+https://example.org/bot)"


def sources_for(platform: Platform, **options: object) -> Sources:
    sources = Sources()
    sources.add(Source("news", platform.url, requests_per_hour=3600, **options))  # type: ignore[arg-type]
    return sources


@pytest.fixture
async def fetcher(app: App, platform: Platform) -> AsyncIterator[PoliteFetcher]:
    made = PoliteFetcher(app, sources_for(platform), user_agent=AGENT)
    yield made
    await made.aclose()


async def test_conditional_get_turns_a_second_fetch_into_304(
    fetcher: PoliteFetcher, platform: Platform
) -> None:
    first = await fetcher.fetch("news", "/page/a")
    assert first.status == 200 and not first.unchanged and b"/page/a" in first.content
    second = await fetcher.fetch("news", "/page/a")
    assert second.status == 304 and second.unchanged
    sent = platform.requests("/page")[1].headers
    assert sent["If-None-Match"] == ETAG and sent["If-Modified-Since"] == LAST_MODIFIED
    assert len(platform.requests("/robots.txt")) == 1  # cached for the second fetch


@pytest.mark.parametrize(
    ("robots", "allowed"),
    [
        ("User-agent: testbot\nDisallow: /page/\n", False),
        ("User-agent: otherbot\nDisallow: /\n", True),
        (404, True),  # unavailable: everything allowed
        (500, False),  # unreachable: everything disallowed
    ],
)
async def test_robots_verdicts(
    fetcher: PoliteFetcher, platform: Platform, robots: str | int, allowed: bool
) -> None:
    platform.robots = robots
    if allowed:
        assert (await fetcher.fetch("news", "/page/a")).status == 200
    else:
        with pytest.raises(Permanent, match=r"robots\.txt"):
            await fetcher.fetch("news", "/page/a")
        assert platform.requests("/page") == []


async def test_crawl_delay_spaces_requests_at_the_server(
    app: App, client: Client, platform: Platform
) -> None:
    platform.robots = "User-agent: *\nCrawl-delay: 1\nAllow: /\n"
    sources = sources_for(platform)
    fetcher = PoliteFetcher(app, sources, user_agent=AGENT)

    @app.task(rate_limit="source:{source}", max_retries=0)
    async def scrape(source: str, path: str) -> int:
        return (await fetcher.fetch(source, path)).status

    sources.declare(app, scrape, schedules=False)
    try:
        jobs = [await client.enqueue(scrape, "news", f"/page/{n}") for n in range(4)]
        async with running_worker(app, concurrency=4):

            async def done() -> bool:
                states = [(await client.job(j.id)).status for j in jobs]
                return all(s is JobStatus.SUCCEEDED for s in states)

            await wait_until(done, timeout=30)
        times = sorted(s.at for s in platform.requests("/page"))
        assert len(times) == 4
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 0.95, gaps
        async with app.limits() as limits:
            assert (await limits.get("source:news")).min_gap == 1.0  # raised to the delay
    finally:
        await fetcher.aclose()


def _window_around_now() -> str:
    now = datetime.now(UTC)
    start, end = now - timedelta(minutes=10), now + timedelta(hours=2)
    return f"{start:%H:%M}-{end:%H:%M}"


async def test_respectful_hours_defer_the_fetch(
    app: App, client: Client, platform: Platform
) -> None:
    sources = sources_for(platform, respectful_hours={_window_around_now(): "forbid"})
    fetcher = PoliteFetcher(app, sources, user_agent=AGENT)

    @app.task(rate_limit="source:{source}")
    async def scrape(source: str, path: str) -> int:
        return (await fetcher.fetch(source, path)).status

    sources.declare(app, scrape, schedules=False)
    try:
        with pytest.raises(RateLimited) as caught:
            await fetcher.fetch("news", "/page/a")
        assert 7200 - 60 < caught.value.retry_after <= 7200 + 60
        job = await client.enqueue(scrape, "news", "/page/b")
        async with running_worker(app):

            async def deferred() -> bool:
                record = await client.job(job.id)
                return record.run_at is not None and record.run_at > datetime.now(UTC) + timedelta(
                    hours=1
                )

            await wait_until(deferred, timeout=10)
        assert (await client.job(job.id)).attempts == 0
        assert platform.requests("/") == []  # nothing reached the source
    finally:
        await fetcher.aclose()
