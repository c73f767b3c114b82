"""Named limits in Redis: set, read, remove, and what each key has used.

A change bumps the limit's version; workers check that version inside the decision
script, so a change applies to the very next decision on every worker.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import NoPermissionError

from chronoq.core import serialization
from chronoq.core.errors import LimitNotFound
from chronoq.core.limits import Kind, Limit
from chronoq.core.names import validate_limit_name
from chronoq.core.zones import zone
from chronoq.redis.broker import Broker
from chronoq.redis.keys import Keyspace
from chronoq.redis.scripts import SCRIPTS, ScriptCall

RECENT_KEYS = 50


@dataclass(frozen=True, slots=True)
class KeyUsage:
    """One key's budget under a limit, now."""

    key: str
    used: int  # starts in the current period (quotas: in the key's local period)
    limit: int
    next_allowed: datetime  # earliest start a new job of this key could get
    blocked_until: datetime | None  # set by RateLimited(retry_after)
    zone: str
    tokens: int | None = None  # rate limits: starts allowed at once now (burst + 1 at most)

    @property
    def utilization(self) -> float:
        return self.used / self.limit

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "used": self.used,
            "limit": self.limit,
            "utilization": round(self.utilization, 4),
            "next_allowed": self.next_allowed.isoformat(),
            "blocked_until": self.blocked_until.isoformat() if self.blocked_until else None,
            "zone": self.zone,
            "tokens": self.tokens,
        }


class LimitStore:
    def __init__(self, redis: Redis, keyspace: Keyspace, *, use_keep_ms: int = 0) -> None:
        self.redis = redis
        self.keys = keyspace
        self.use_keep_ms = use_keep_ms  # how long a quota's use history keeps a day; 0: none

    async def set(self, limit: Limit, *, code_fingerprint: str | None = None) -> int:
        """Create or replace a limit; returns its new version. Jobs it had booked for
        later are made due at once, to be decided again under the new numbers."""
        k = self.keys.limit(limit.name)
        fields: dict[Any, str | int] = _config_fields(limit)
        if code_fingerprint is not None:
            fields["code"] = code_fingerprint
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(k.config, mapping=fields)
            pipe.hincrby(k.config, "ver", 1)
            _, version = await pipe.execute()
        await self._changed(limit.name)
        return int(version)

    async def _changed(self, name: str) -> None:
        await self.redis.sadd(self.keys.limits, name)
        await self.release_bookings(name)

    async def acquire(self, name: str, args: list[str | int]) -> list[Any]:
        """One decision call of limit_acquire.lua (see its header for ARGV and the
        reply; `chronoq.control.limiter` builds both)."""
        script, keys, _ = self.acquire_call(name, args)
        return list(await script(self.redis, keys, args))

    def acquire_call(self, name: str, args: list[str | int]) -> ScriptCall:
        """The same call, to send along with other commands (one round trip)."""
        k = self.keys.limit(name)
        keys = [k.config, k.state_prefix, k.keys, k.booked, k.use_prefix]
        return SCRIPTS.limit_acquire, keys, args

    async def forget_key(self, name: str, key: str) -> None:
        """Drop one key's state and its place in the recently used keys (a key
        that names nothing, e.g. the id of a token that does not exist)."""
        k = self.keys.limit(name)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(k.state(key))
            pipe.zrem(k.keys, key)
            await pipe.execute()

    async def release_bookings(self, name: str) -> int:
        """Make every job `name` booked for later due now. Returns how many moved."""
        k = self.keys.limit(name)
        refs = cast(list[str], await self.redis.zrange(k.booked, 0, -1))
        by_queue: dict[str, list[str]] = defaultdict(list)
        for ref in refs:
            queue, _, job_id = ref.partition(" ")
            by_queue[queue].append(job_id)
        moved = 0
        broker = Broker(self.redis, self.keys)
        for queue, ids in by_queue.items():
            for start in range(0, len(ids), 1000):
                moved += await broker.undefer(queue, name, ids[start : start + 1000])
        if refs:
            await self.redis.zrem(k.booked, *refs)
        return moved

    async def get(self, name: str) -> Limit:
        raw = await self.redis.hget(self.keys.limit(validate_limit_name(name)).config, "json")
        if raw is None:
            raise LimitNotFound(f"no limit named {name!r}")
        return Limit.from_dict(serialization.loads(raw))

    async def versioned(self, name: str) -> tuple[Limit, str] | None:
        raw, version = await self.redis.hmget(self.keys.limit(name).config, ["json", "ver"])
        if raw is None or version is None:
            return None
        return Limit.from_dict(serialization.loads(raw)), str(version)

    async def all(self) -> list[Limit]:
        """Every limit, read in one pipelined round trip (names left behind by a
        removal are dropped from the registry)."""
        names = sorted(cast(set[str], await self.redis.smembers(self.keys.limits)))
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hget(self.keys.limit(name).config, "json")
            raws = await pipe.execute()
        gone = [name for name, raw in zip(names, raws, strict=True) if raw is None]
        if gone:
            # Tidying, not the answer: a read-only (viewer) user may not, and need not.
            with contextlib.suppress(NoPermissionError):
                await self.redis.srem(self.keys.limits, *gone)
        return [Limit.from_dict(serialization.loads(raw)) for raw in raws if raw is not None]

    async def remove(self, name: str) -> None:
        """Forget a limit: jobs naming it run unlimited (a warning is logged)."""
        k = self.keys.limit(validate_limit_name(name))
        if not await self.redis.delete(k.config):
            raise LimitNotFound(f"no limit named {name!r}")
        await self.redis.srem(self.keys.limits, name)
        await self.release_bookings(name)

    async def sync_declared(self, limits: Iterable[Limit], *, overwrite: bool = False) -> list[str]:
        """Store limits declared in code. One already stored is kept (an operator may
        have changed it) unless its code definition changed since the last sync, or
        `overwrite`. Returns the names written."""
        written = []
        for limit in limits:
            pairs = [item for pair in _config_fields(limit).items() for item in pair]
            args = [limit.fingerprint(), int(overwrite), *pairs]
            config = self.keys.limit(limit.name).config
            if await SCRIPTS.limit_sync(self.redis, [config], args):  # checked and set at once
                await self._changed(limit.name)
                written.append(limit.name)
        return written

    # -- account zones (quotas count in the account's local day) -------------

    async def set_account_zone(self, account: str, tz: str) -> None:
        await self.redis.hset(self.keys.account_zones, account, zone(tz).key)

    async def account_zones(self, accounts: Iterable[str]) -> dict[str, str]:
        wanted = list(accounts)
        if not wanted:
            return {}
        found = await self.redis.hmget(self.keys.account_zones, wanted)
        return {a: str(z) for a, z in zip(wanted, found, strict=True) if z}

    # -- usage -------------------------------------------------------------

    async def usage(self, name: str, keys: Iterable[str] | None = None) -> list[KeyUsage]:
        """Use of the current period per key: the given keys, or the recently used."""
        limit = await self.get(name)
        k = self.keys.limit(name)
        if keys is None:
            wanted = cast(list[str], await self.redis.zrevrange(k.keys, 0, RECENT_KEYS - 1))
        else:
            wanted = list(keys)
        zones = await self.account_zones(wanted) if limit.kind is Kind.QUOTA else {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in wanted:
                pipe.hgetall(k.state(key))
            states = await pipe.execute()
        now_ms = int(time.time() * 1000)  # a view: the local clock is close enough
        return [
            _usage(limit, key, state, now_ms, zones.get(key, limit.tz))
            for key, state in zip(wanted, states, strict=True)
        ]

    async def use_history(self, name: str, days: Sequence[str]) -> dict[str, dict[str, int]]:
        """A quota's use history: per local ISO day asked for, starts granted per
        limit key (account) in that day's periods; days with none are left out.
        One pipelined round trip (one HGETALL per day)."""
        k = self.keys.limit(name)
        async with self.redis.pipeline(transaction=False) as pipe:
            for day in days:
                pipe.hgetall(k.use(day))
            found = await pipe.execute()
        return {
            day: {str(key): int(n) for key, n in used.items()}
            for day, used in zip(days, found, strict=True)
            if used
        }


def _config_fields(limit: Limit) -> dict[Any, str | int]:
    """The config hash fields of `limit`: its JSON and the numbers the script reads."""
    return {
        "json": serialization.dumps(limit.to_dict()),
        "kind": limit.kind.value,
        "n": limit.limit,
        "per_ms": limit.period.ms,
        "burst": limit.burst,
        "gap_ms": int(limit.min_gap * 1000),
    }


def _usage(limit: Limit, key: str, state: dict[str, str], now_ms: int, tz: str) -> KeyUsage:
    blocked = float(state.get("blk", 0))
    tokens = None
    if limit.kind is Kind.QUOTA:
        used, next_ms = _quota_usage(limit, state, now_ms, tz)
    else:
        used, next_ms = _rate_usage(limit, state, now_ms)
        tokens = 0 if blocked > now_ms else _tokens(limit, state, now_ms)
    next_ms = max(next_ms, blocked)
    return KeyUsage(
        key=key,
        used=used,
        limit=limit.limit,
        next_allowed=_at(next_ms),
        blocked_until=_at(blocked) if blocked > now_ms else None,
        zone=tz,
        tokens=tokens,
    )


def _tokens(limit: Limit, state: dict[str, str], now_ms: int) -> int:
    """GCRA's bucket at the limit's own rate: a start is allowed while the theoretical
    arrival time is at most burst emissions ahead of now, so the starts allowed at
    once are those emissions left between now and tat, up to burst + 1."""
    emission = limit.emission_ms
    tat = float(state.get("tat", 0))
    room = math.floor((now_ms - tat) / emission) + limit.burst + 1
    return max(0, min(limit.burst + 1, room))


def _rate_usage(limit: Limit, state: dict[str, str], now_ms: int) -> tuple[int, float]:
    per = limit.period.ms
    current = math.floor(now_ms / per)
    used = int(state.get(f"r:{current}", 0))
    tat = float(state.get("tat", 0))
    base = max(now_ms, float(state.get("last", -1e15)) + limit.min_gap * 1000)
    spans = limit.allowed_intervals(_at(now_ms))
    if not spans:
        return used, max(base, tat - limit.burst * limit.emission_ms)
    for start, end, *rate in spans:  # as limit_acquire.lua decides it
        earliest = max(base, tat - limit.burst * (rate[0] if rate else limit.emission_ms), start)
        if earliest < end:
            return used, earliest
    return used, base


def _quota_usage(limit: Limit, state: dict[str, str], now_ms: int, tz: str) -> tuple[int, float]:
    starts = limit.period_starts(_at(now_ms), tz)
    used = int(state.get(f"q:{starts[0]}", 0))
    for start in starts[:-1]:
        if int(state.get(f"q:{start}", 0)) < limit.limit:
            return used, max(now_ms, start)
    return used, starts[-1]


def _at(ms: float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
