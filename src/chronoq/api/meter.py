"""The per-token request limit of the API: 429 with Retry-After beyond it.

Dogfooding: it is a chronoq rate limit (`chronoq-api`, from CHRONOQ_API_RATE,
default 50/s with bursts of 50), decided by the same script as jobs' limits, per
token id. An operator sees its busiest tokens and changes it live like any limit
(`chronoq limits ...`); a process stores it once, keeping an operator's edit
unless CHRONOQ_API_RATE changed. A request costs no extra round trip: the
decision call travels in one pipeline with the token check. A refused request
books nothing, so a client that waits Retry-After gets in.

Keyed on the id half of the token (`cq_<id>_<secret>`) since the pipeline runs
before the secret is checked: a request with a valid id and a wrong secret spends
that token's budget (ids are not secret; the 401 is unchanged). A request whose id
names no token has its key state dropped again, so a flood of made-up ids leaves
nothing behind.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from chronoq.control.limiter import Limiter, LimitRequest
from chronoq.core.access import TokenRecord, token_id_of
from chronoq.core.errors import RateLimited
from chronoq.core.limits import Limit
from chronoq.redis.access import Checked
from chronoq.redis.backend import Backend


class Meter:
    """Checks a bearer token and its request budget in one round trip."""

    def __init__(self, limit: Limit | None) -> None:
        self.limit = limit
        self._limiter: tuple[Backend, Limiter] | None = None
        self._synced = asyncio.Lock()

    async def verify(self, backend: Backend, visible: str) -> TokenRecord | None:
        """The token's record (None: unknown, revoked, malformed). Raises
        RateLimited (429) when the token is over its budget."""
        token_id = token_id_of(visible)
        if self.limit is None or token_id is None:
            return await backend.access.verify(visible)
        limiter = await self._ready(backend)
        found: list[Checked] = []

        async def send(name: str, args: list[str | int]) -> list[Any]:
            checked = await backend.access.verify_with(
                visible, backend.limits.acquire_call(name, args)
            )
            found[:] = [checked]
            return checked.reply

        request = LimitRequest(token_id, now_only=True)
        (decision,) = await limiter.decide(self.limit.name, [request], send=send)
        if not found:  # the limit was removed by an operator: no limit, still a check
            return await backend.access.verify(visible)
        record, known, _ = found[0]
        if record is None:
            if not known:  # made-up id: leave no state behind for it
                await backend.limits.forget_key(self.limit.name, token_id)
            return None
        if not decision.go:
            wait = max(0.001, (decision.at_ms - time.time() * 1000) / 1000)
            raise RateLimited(wait, f"token {record.name!r} is over its API rate of "
                              f"{self.limit.rate_text}: retry after {wait:.3f} s")  # fmt: skip
        return record

    async def _ready(self, backend: Backend) -> Limiter:
        """The limiter, once this process stored the limit (an operator's edit of
        it is kept unless CHRONOQ_API_RATE changed since)."""
        if self._limiter is None or self._limiter[0] is not backend:
            async with self._synced:
                if self._limiter is None or self._limiter[0] is not backend:
                    assert self.limit is not None
                    await backend.limits.sync_declared([self.limit])
                    self._limiter = backend, Limiter(backend.limits)
        return self._limiter[1]
