"""HTTP connectors: search over a user-supplied endpoint, and polite scraping of a
registry of sources (robots.txt per RFC 9309, Crawl-delay, Retry-After in both
forms, conditional GET, priorities as schedules, limits and respectful hours as
chronoq rate limits). Built on chronoq's public API and httpx."""

from chronoq.connectors.http.adaptive import AdaptiveRate
from chronoq.connectors.http.fetch import Page, PoliteFetcher, seconds_closed
from chronoq.connectors.http.robots import Robots
from chronoq.connectors.http.robots_cache import RobotsCache
from chronoq.connectors.http.search import PageStyle, Pagination, SearchClient, SearchEndpoint
from chronoq.connectors.http.sources import Priority, Source, Sources
from chronoq.connectors.http.throttle import parse_retry_after, throttle_wait

__all__ = [
    "AdaptiveRate",
    "Page",
    "PageStyle",
    "Pagination",
    "PoliteFetcher",
    "Priority",
    "Robots",
    "RobotsCache",
    "SearchClient",
    "SearchEndpoint",
    "Source",
    "Sources",
    "parse_retry_after",
    "seconds_closed",
    "throttle_wait",
]
