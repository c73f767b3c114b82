"""Fetching robots.txt per RFC 9309 §2.3-2.4, cached in chronoq records so every
worker shares one copy per origin:

- 2xx: the file's rules, kept as long as its Cache-Control max-age says, at most
  24 hours (§2.4: "SHOULD NOT use a cached version for more than 24 hours");
- 4xx ("unavailable"): no rules, everything allowed, kept as long;
- 5xx or unreachable (network error, timeout): everything disallowed, kept a few
  minutes only, so the crawl resumes soon after the server does;
- redirects are followed, five hops at most (§2.3.1.2).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx

from chronoq import Client
from chronoq.connectors.http.robots import Robots

MAX_AGE = 24 * 3600.0
UNREACHABLE_AGE = 300.0
MAX_REDIRECTS = 5
NAMESPACE = "http-robots"
_MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)", re.IGNORECASE)


def origin(url: str) -> str:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"not an absolute URL: {url!r}")
    return f"{parts.scheme}://{parts.netloc}".lower()


class RobotsCache:
    """`await cache.get(url)`: the robots.txt for the URL's origin, from the shared
    cache or fetched now."""

    def __init__(self, client: Client, http: httpx.AsyncClient, user_agent: str) -> None:
        self.records = client.records(NAMESPACE)
        self.http = http
        self.user_agent = user_agent

    async def get(self, url: str) -> Robots:
        site = origin(url)
        cached = await self.records.get(site)
        if cached is not None:
            return Robots.from_dict(cached)
        robots, ttl = await self.fetch(site)
        await self.records.put(site, robots.to_dict(), ttl=ttl)
        return robots

    async def forget(self, url: str) -> None:
        await self.records.delete(origin(url))

    async def fetch(self, site: str) -> tuple[Robots, float]:
        try:
            response = await self.http.get(
                f"{site}/robots.txt",
                headers={"User-Agent": self.user_agent},
                follow_redirects=True,
            )
        except httpx.TooManyRedirects:
            return Robots.allow_all(), MAX_AGE  # §2.3.1.2: beyond 5 hops, "unavailable"
        except httpx.HTTPError:
            return Robots.unreachable(), UNREACHABLE_AGE
        status = response.status_code
        if 200 <= status < 300:
            return Robots.parse(response.content), _ttl(response)
        if 400 <= status < 500:
            return Robots.allow_all(), _ttl(response)
        return Robots.unreachable(), UNREACHABLE_AGE


def _ttl(response: httpx.Response) -> float:
    match = _MAX_AGE.search(response.headers.get("Cache-Control", ""))
    if match is None:
        return MAX_AGE
    return min(MAX_AGE, max(1.0, float(match[1])))
