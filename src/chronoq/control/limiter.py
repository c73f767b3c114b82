"""Asking a named limit when jobs may start: one script call per limit per batch.

The script decides atomically across all workers and books the time it grants, so a
deferred job is decided once and runs at its booked time (no polling, no herd at
the window's opening). The caller supplies the calendar (allowed intervals, or a
quota's period starts in the account's zone) computed from the limit version it
cached; the script refuses a stale version and the limiter reloads at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chronoq.core import serialization
from chronoq.core.limits import Kind, Limit, period_days
from chronoq.redis.limits import LimitStore

log = logging.getLogger("chronoq.control")

STALE, MISSING = -1, -2
CALENDAR_TTL = 60.0  # allowed intervals reach 8 days ahead: recomputing each minute is plenty
ZONE_TTL = 30.0  # an account's zone change reaches workers within this


@dataclass(frozen=True, slots=True)
class LimitRequest:
    key: str = ""
    reservation_ms: int = 0  # booked by an earlier decision; honoured once due
    block_until_ms: int = 0  # RateLimited(retry_after): nothing of this key before it
    ref: str = ""  # '<queue> <job id>': recorded with a future booking, released on change
    now_only: bool = False  # start now or not at all: a later time is told, never booked


# Sends one decision call (limit name, ARGV) and returns its reply: by default
# LimitStore.acquire; a caller may send it with other commands in one round trip.
Send = Callable[[str, list[str | int]], Awaitable[list[Any]]]


@dataclass(frozen=True, slots=True)
class Decision:
    at_ms: int  # 0: start now; else epoch ms to run at
    booked: bool  # the time is reserved (False: ask again then)

    @property
    def go(self) -> bool:
        return self.at_ms == 0


GO = Decision(0, False)


class Limiter:
    def __init__(self, store: LimitStore, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._clock = clock
        self._limits: dict[str, tuple[Limit, str] | None] = {}
        self._calendars: dict[tuple[str, str], tuple[float, str]] = {}
        self._zones: dict[str, tuple[float, str | None]] = {}
        self._warned: set[str] = set()

    async def decide(
        self, name: str, requests: Sequence[LimitRequest], *, send: Send | None = None
    ) -> list[Decision]:
        """When each request may start under limit `name` (same order). A
        `now_only` request that cannot start now gets the time it could (booked
        False). `send` makes the script call (see Send); it is not called when the
        limit is not set (every request goes)."""
        send = send or self.store.acquire
        for _ in range(5):
            entry = await self._limit(name)
            if entry is None:
                self._warn_missing(name)
                return [GO] * len(requests)
            limit, version = entry
            calendars = await self._calendars_for(limit, version, requests)
            reply = await send(name, _args(version, requests, calendars))
            if len(reply) == 1 and int(reply[0]) in (STALE, MISSING):
                self._limits.pop(name, None)  # changed or removed: reload and ask again
                continue
            return [Decision(abs(int(v)), int(v) > 0) for v in reply]
        raise RuntimeError(f"limit {name!r} kept changing while deciding; try again")

    def forget(self, name: str | None = None) -> None:
        """Drop cached definitions (tests, or after a local change)."""
        if name is None:
            self._limits.clear()
        else:
            self._limits.pop(name, None)

    async def _limit(self, name: str) -> tuple[Limit, str] | None:
        if name not in self._limits:
            self._limits[name] = await self.store.versioned(name)
        return self._limits[name]

    def _warn_missing(self, name: str) -> None:
        if name not in self._warned:
            self._warned.add(name)
            log.warning("chronoq: no limit named %r is set; its jobs run unlimited", name)

    async def _calendars_for(
        self, limit: Limit, version: str, requests: Sequence[LimitRequest]
    ) -> list[str]:
        now = datetime.fromtimestamp(self._clock(), UTC)
        if limit.kind is Kind.RATE:
            return [self._rate_calendar(limit, version, now)] * len(requests)
        zones = await self._account_zones([r.key for r in requests])
        by_zone: dict[str, str] = {}
        out = []
        for request in requests:
            tz = zones.get(request.key) or limit.tz
            if tz not in by_zone:
                starts = limit.period_starts(now, tz)
                days = period_days(starts[:-1], tz)
                calendar = {"s": starts, "d": days, "k": self.store.use_keep_ms}
                by_zone[tz] = serialization.dumps(calendar)
            out.append(by_zone[tz])
        return out

    def _rate_calendar(self, limit: Limit, version: str, now: datetime) -> str:
        cached = self._calendars.get((limit.name, version))
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        text = serialization.dumps(limit.allowed_intervals(now))
        self._calendars[(limit.name, version)] = (self._clock() + CALENDAR_TTL, text)
        return text

    async def _account_zones(self, accounts: list[str]) -> dict[str, str | None]:
        now = self._clock()
        stale = {a for a in accounts if a not in self._zones or self._zones[a][0] < now}
        if stale:
            found = await self.store.account_zones(stale)
            for account in stale:
                self._zones[account] = (now + ZONE_TTL, found.get(account))
        return {a: self._zones[a][1] for a in accounts}


def _args(
    version: str, requests: Sequence[LimitRequest], calendars: Sequence[str]
) -> list[str | int]:
    args: list[str | int] = [version, len(requests)]
    for request, calendar in zip(requests, calendars, strict=True):
        reservation = -1 if request.now_only else request.reservation_ms
        args += [request.key, reservation, request.block_until_ms, calendar, request.ref]
    return args
