"""Search over HTTP against the local platform: pages, auth, Retry-After in both
forms (the job runs again no earlier than asked, resuming where it stopped), and
the endpoint's rate lowered, then raised back."""

from __future__ import annotations

import time

import pytest

from chronoq import App, Client, JobStatus, Permanent, RetryAfter
from chronoq.connectors.http import AdaptiveRate, Pagination, SearchClient, SearchEndpoint
from tests.connectors.http.server import ITEMS, TOKEN, Platform, http_date
from tests.worker.helpers import running_worker, wait_until


def endpoint(platform: Platform, **options: object) -> SearchEndpoint:
    return SearchEndpoint(platform.url, token=TOKEN, **options)  # type: ignore[arg-type]


async def test_cursor_pages_with_the_token_and_stores_the_results(
    client: Client, platform: Platform
) -> None:
    search = SearchClient(client, endpoint(platform))
    try:
        assert await search.run("people", key="s1") == ITEMS
        assert await search.results("s1") == ITEMS
        seen = platform.requests("/search")
        assert [s.query.get("cursor") for s in seen] == [None, "3", "6"]
        assert all(s.headers["Authorization"] == f"Bearer {TOKEN}" for s in seen)
        assert await search.run("people", key="s1") == ITEMS  # stored: not fetched again
        assert len(platform.requests("/search")) == 3
    finally:
        await search.aclose()


async def test_page_numbers_and_a_bad_token(client: Client, platform: Platform) -> None:
    paging = Pagination(style="page", size=4)  # type: ignore[arg-type]
    search = SearchClient(client, endpoint(platform, pagination=paging))
    bad = SearchClient(client, SearchEndpoint(platform.url, token="wrong"))
    try:
        assert await search.run("people") == ITEMS
        assert [s.query["page"] for s in platform.requests("/search")] == ["1", "2"]
        with pytest.raises(Permanent, match="401"):
            await bad.run("people", key="bad")
    finally:
        await search.aclose()
        await bad.aclose()


@pytest.mark.parametrize("form", ["seconds", "http-date"])
async def test_retry_after_is_honoured_and_the_retry_resumes(
    app: App, client: Client, platform: Platform, form: str
) -> None:
    search = SearchClient(client, endpoint(platform))

    @app.task(max_retries=3)
    async def find(query: str) -> list[object]:
        return await search.run(query, key=f"find:{query}")

    wait = 2.0
    value = "2" if form == "seconds" else http_date(time.time() + 3)  # a date: whole seconds
    platform.throttles = [(429 if form == "seconds" else 503, value)]
    platform.throttle_skip = 1  # the second page is throttled
    try:
        job = await client.enqueue(find, "people")
        async with running_worker(app):

            async def done() -> bool:
                return (await client.job(job.id)).status is JobStatus.SUCCEEDED

            await wait_until(done, timeout=20)
        assert await client.result(job.id) == ITEMS
        seen = platform.requests("/search")
        assert [s.query.get("cursor") for s in seen] == [None, "3", "3", "6"]  # resumed
        throttled_at, retried_at = seen[1].at, seen[2].at
        if form == "seconds":
            assert retried_at >= throttled_at + wait
        else:
            assert retried_at >= float(int(throttled_at) + 2)  # the date, to the second
        assert (await client.job(job.id)).attempts == 2
    finally:
        await search.aclose()


async def test_throttles_lower_the_rate_and_successes_raise_it_back(
    app: App, client: Client, platform: Platform
) -> None:
    async with app.limits() as limits:
        await limits.set("search-api", "60/min")
    adaptive = AdaptiveRate(client, "search-api", recover_after=2, step=2)
    search = SearchClient(client, endpoint(platform, limit="search-api"), adaptive=adaptive)
    platform.throttles = [(429, "1"), (429, "1")]
    try:
        for _ in range(2):
            with pytest.raises(RetryAfter):
                await search.run("people", key="r")
        async with app.limits() as limits:
            assert (await limits.get("search-api")).rate_text == "900/hour"  # 3600 -> 1800 -> 900
            await search.run("people", key="r")  # three pages: 2 successes raise one step
            assert (await limits.get("search-api")).rate_text == "1800/hour"
            await adaptive.succeeded()
            await adaptive.succeeded()  # back at the first rate: the record is dropped
            assert (await limits.get("search-api")).rate_text == "60/minute"
            assert await adaptive.succeeded() is None
    finally:
        await search.aclose()
