"""Fetching a source's page politely in one call, from inside a scrape task:

```
fetcher = PoliteFetcher(app, sources, user_agent="ExampleBot/1.0 (+https://example.org/bot)")

@app.task(rate_limit="source:{source}")
async def scrape(source: str, path: str = "/") -> None:
    page = await fetcher.fetch(source, path)
    if not page.unchanged:
        ...  # parse page.text
```

In order, each step deferring the job rather than failing it where waiting helps:
1. respectful hours: inside a window that forbids this source now, RateLimited until
   it opens (the source's limit defers the job's start there too);
2. robots.txt (shared cache, RFC 9309): a disallowed URL is Permanent; a Crawl-delay
   above the source's minimum delay raises its limit's `min_gap` to it;
3. a conditional GET with the URL's stored ETag and Last-Modified; a 304 is
   `unchanged`, a 2xx stores the new validators (or drops the stored ones when it
   has none: the page stopped sending them), sent once the minimum gap between two
   requests to the source is claimed, atomically across workers and just before the
   request leaves (`app.once` with the gap, plus GAP_MARGIN, as its ttl): a request
   too soon is deferred;
4. 429 and 503: their Retry-After (seconds or HTTP-date) reschedules the job, and
   the source's rate is lowered until it recovers (`AdaptiveRate`).

The source's requests per hour and burst are its limit's, which gates the scrape
*job's* start: one fetch per job, as above. A task that fetches several pages in
one job is spaced by the minimum delay (step 3) only; enqueue a job per page.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from chronoq import App, Limit, LimitNotFound, Limits, Permanent, RateLimited
from chronoq.connectors.http.adaptive import AdaptiveRate
from chronoq.connectors.http.robots_cache import MAX_REDIRECTS, RobotsCache
from chronoq.connectors.http.sources import Source, Sources
from chronoq.connectors.http.throttle import throttle_wait, throttled

VALIDATORS = "http-validators"
VALIDATORS_TTL = 90 * 86400.0
GAP_MARGIN = 0.05  # s a gap claim outlasts the gap (see PoliteFetcher._claim_gap)


@dataclass(frozen=True, slots=True)
class Page:
    url: str
    status: int
    unchanged: bool  # a 304: the copy from the last fetch is current
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


class PoliteFetcher:
    def __init__(
        self,
        app: App,
        sources: Sources,
        *,
        user_agent: str,
        spend_attempt: bool = True,
        timeout: float = 30.0,
    ) -> None:
        self.app = app
        self.sources = sources
        self.user_agent = user_agent
        self.spend_attempt = spend_attempt  # for 429/503 (False: RateLimited)
        self.timeout = timeout
        self._client = app.client()
        self._http: httpx.AsyncClient | None = None

    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.timeout, max_redirects=MAX_REDIRECTS,
                                           headers={"User-Agent": self.user_agent})  # fmt: skip
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        await self._client.close()

    async def fetch(self, source: str | Source, path: str = "/") -> Page:
        src = source if isinstance(source, Source) else self.sources.get(source)
        url = src.url(path)
        limit = await self._limit(src)
        closed_for = seconds_closed(limit, datetime.now(UTC))
        if closed_for:
            raise RateLimited(closed_for, f"source {src.name!r} is in its respectful hours")
        robots = await RobotsCache(self._client, self.http(), self.user_agent).get(url)
        if not robots.allowed(url, self.user_agent):
            raise Permanent(f"robots.txt of {src.name!r} disallows {url} for {self.user_agent}")
        gap = max(limit.min_gap, robots.crawl_delay(self.user_agent) or 0.0)
        if gap > limit.min_gap:
            await Limits(self._client, self.app.timezone).update(limit.name, min_gap=gap)
        return await self._get(src, url, gap)

    async def _claim_gap(self, source: Source, gap: float) -> None:
        """Claim the gap before this request to the source, across workers, as late as
        possible (just before the request leaves); a request too soon is deferred. The
        claim is held GAP_MARGIN past the gap: the time from a claim to its request
        leaving differs between two requests (the first one opens the connection), and
        the server must see at least the gap between them."""
        if gap > 0 and not await self.app.once(f"http-gap:{source.name}", ttl=gap + GAP_MARGIN):
            raise RateLimited(gap, f"source {source.name!r}: {gap:g} s between requests")

    async def _limit(self, source: Source) -> Limit:
        """The stored limit (operators' runtime changes, a Crawl-delay, a lowered
        rate), else the source's own."""
        try:
            return await Limits(self._client, self.app.timezone).get(source.limit_name)
        except LimitNotFound:
            return source.limit()

    async def _get(self, source: Source, url: str, gap: float) -> Page:
        records = self._client.records(VALIDATORS)
        key = hashlib.sha1(url.encode()).hexdigest()
        known = await records.get(key) or {}
        headers = {}
        if known.get("etag"):
            headers["If-None-Match"] = known["etag"]
        if known.get("last_modified"):
            headers["If-Modified-Since"] = known["last_modified"]
        await self._claim_gap(source, gap)
        response = await self.http().get(url, headers=headers, follow_redirects=True)
        adaptive = AdaptiveRate(self._client, source.limit_name, timezone=self.app.timezone)
        wait = throttle_wait(response)
        if wait is not None:
            await adaptive.throttled()
            raise throttled(wait, f"source {source.name!r}", spend_attempt=self.spend_attempt)
        await adaptive.succeeded()
        if response.status_code == 304:
            return Page(url, 304, True, headers=dict(response.headers))
        if 400 <= response.status_code < 500:
            raise Permanent(f"{url}: HTTP {response.status_code}")
        response.raise_for_status()  # 5xx: an ordinary retry
        validators = {
            "etag": response.headers.get("ETag"),
            "last_modified": response.headers.get("Last-Modified"),
            "at": time.time(),
        }
        if validators["etag"] or validators["last_modified"]:
            await records.put(key, validators, ttl=VALIDATORS_TTL)
        elif known:  # the page no longer has validators: stop sending stale ones
            await records.delete(key)
        return Page(url, response.status_code, False, response.content, dict(response.headers))


def seconds_closed(limit: Limit, now: datetime) -> float:
    """0 when the limit allows starts now; else the seconds until its next open
    window (its respectful hours forbid now). Past the horizon: an hour."""
    if not limit.windows and not limit.window_rates:
        return 0.0
    now_ms = int(now.timestamp() * 1000)
    intervals = limit.allowed_intervals(now)
    for span in intervals:
        if span[0] <= now_ms < span[1]:
            return 0.0
    later = [span[0] for span in intervals if span[0] > now_ms]
    return (min(later) - now_ms) / 1000 if later else 3600.0
