"""Search over HTTP: a user-supplied endpoint the user is licensed to call, with a
token, read page by page, politely.

- auth: the token goes in `auth_header` (default `Authorization: Bearer <token>`);
- pages: by cursor (the reply names the next cursor) or by page number, with the
  parameter and field names configurable (`Pagination`);
- 429 and 503: their Retry-After (seconds or an HTTP-date) ends the attempt with
  RetryAfter, so the job runs again no earlier than asked, and the endpoint's rate
  limit is lowered (`AdaptiveRate`) until successes raise it back;
- results: returned, and stored under the search's key for a later step
  (`results(key)`); the pages read before a throttle are kept too, so the retry
  resumes where it stopped instead of reading them again.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from typing import Any

import httpx

from chronoq import Client, Permanent
from chronoq.connectors.http.adaptive import AdaptiveRate
from chronoq.connectors.http.throttle import throttle_wait, throttled

NAMESPACE = "http-search"
RESULTS_TTL = 7 * 86400.0


class PageStyle(enum.StrEnum):
    CURSOR = "cursor"
    PAGE = "page"


@dataclass(frozen=True, slots=True)
class Pagination:
    """How the endpoint pages. Cursor: send `cursor_param=<cursor>`, read the next
    from `next_field` (absent, null or "" ends). Page: send `page_param` from
    `first_page` and `size_param=size`; a page shorter than `size` ends."""

    style: PageStyle = PageStyle.CURSOR
    items_field: str = "results"
    cursor_param: str = "cursor"
    next_field: str = "next_cursor"
    page_param: str = "page"
    size_param: str | None = "per_page"
    size: int = 50
    first_page: int = 1
    max_pages: int = 100

    def __post_init__(self) -> None:
        object.__setattr__(self, "style", PageStyle(self.style))
        if self.size < 1 or self.max_pages < 1:
            raise ValueError("Pagination needs size >= 1 and max_pages >= 1")


@dataclass(frozen=True, slots=True)
class SearchEndpoint:
    base_url: str
    token: str | None = None
    path: str = "/search"
    query_param: str = "q"
    auth_header: str = "Authorization"
    auth_scheme: str | None = "Bearer"  # None: the header is the token itself
    pagination: Pagination = field(default_factory=Pagination)
    limit: str | None = None  # the chronoq rate limit to lower on 429/503
    timeout: float = 30.0
    user_agent: str = "chronoq-search"

    def headers(self) -> dict[str, str]:
        out = {"User-Agent": self.user_agent, "Accept": "application/json"}
        if self.token is not None:
            out[self.auth_header] = (
                f"{self.auth_scheme} {self.token}" if self.auth_scheme else self.token
            )
        return out


def search_key(endpoint: str, query: str, params: dict[str, Any] | None = None) -> str:
    """The default key a search's results are stored under: the endpoint's URL,
    the query and its parameters."""
    text = repr((endpoint, query, sorted((params or {}).items())))
    return hashlib.sha1(text.encode()).hexdigest()[:20]


class SearchClient:
    """`await search.run("python jobs berlin")` inside a task: every page's items,
    stored for the next step under `key` (default: from the query and params)."""

    def __init__(
        self,
        client: Client,
        endpoint: SearchEndpoint,
        *,
        spend_attempt: bool = True,
        adaptive: AdaptiveRate | None = None,
        http: httpx.AsyncClient | None = None,
        results_ttl: float = RESULTS_TTL,
    ) -> None:
        self.endpoint = endpoint
        self.records = client.records(NAMESPACE)
        self.spend_attempt = spend_attempt  # False: RateLimited (no attempt spent)
        self.adaptive = adaptive or (
            AdaptiveRate(client, endpoint.limit) if endpoint.limit else None
        )
        self._http = http
        self.results_ttl = results_ttl

    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(base_url=self.endpoint.base_url,
                                           timeout=self.endpoint.timeout)  # fmt: skip
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def results(self, key: str) -> list[Any] | None:
        """A finished search's items (None: not finished, or expired)."""
        state = await self.records.get(key)
        if state is None or not state.get("done"):
            return None
        items: list[Any] = state["items"]
        return items

    async def run(
        self, query: str, *, key: str | None = None, params: dict[str, Any] | None = None
    ) -> list[Any]:
        key = key or search_key(self.endpoint.base_url + self.endpoint.path, query, params)
        state = await self.records.get(key) or {"items": [], "position": None, "pages": 0}
        if state.get("done"):
            return list(state["items"])
        paging = self.endpoint.pagination
        while state["pages"] < paging.max_pages:
            body = await self._page(query, params or {}, state, key)
            items = body.get(paging.items_field)
            if not isinstance(items, list):
                raise Permanent(f"search reply has no list {paging.items_field!r}: {body!r:.200}")
            state["items"].extend(items)
            state["pages"] += 1
            state["position"] = _next_position(paging, body, state, len(items))
            if state["position"] is None:
                break
        state["done"] = True
        await self.records.put(key, state, ttl=self.results_ttl)
        return list(state["items"])

    async def _page(
        self, query: str, params: dict[str, Any], state: dict[str, Any], key: str
    ) -> dict[str, Any]:
        paging = self.endpoint.pagination
        sent: dict[str, Any] = {**params, self.endpoint.query_param: query}
        if paging.style is PageStyle.PAGE:
            sent[paging.page_param] = state["position"] or paging.first_page
            if paging.size_param:
                sent[paging.size_param] = paging.size
        elif state["position"] is not None:
            sent[paging.cursor_param] = state["position"]
        response = await self.http().get(self.endpoint.path, params=sent,
                                          headers=self.endpoint.headers())  # fmt: skip
        wait = throttle_wait(response)
        if wait is not None:
            await self.records.put(key, state, ttl=self.results_ttl)  # resume from here
            if self.adaptive is not None:
                await self.adaptive.throttled()
            raise throttled(
                wait, f"search {self.endpoint.base_url}", spend_attempt=self.spend_attempt
            )
        if response.status_code in (401, 403):
            raise Permanent(f"search refused the token: HTTP {response.status_code}")
        if response.status_code >= 400 and response.status_code < 500:
            raise Permanent(f"search failed: HTTP {response.status_code} {response.text[:200]}")
        response.raise_for_status()  # 5xx other than 503: an ordinary retry
        if self.adaptive is not None:
            await self.adaptive.succeeded()
        body = response.json()
        if not isinstance(body, dict):
            raise Permanent(f"search reply is not a JSON object: {body!r:.200}")
        return body


def _next_position(paging: Pagination, body: dict[str, Any], state: dict[str, Any],
                   count: int) -> Any:  # fmt: skip
    if paging.style is PageStyle.CURSOR:
        cursor = body.get(paging.next_field)
        return cursor if cursor not in (None, "") else None
    if count < paging.size or count == 0:
        return None
    return (state["position"] or paging.first_page) + 1
