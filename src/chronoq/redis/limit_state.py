"""A limit's live state and its hot keys: what the dashboard's limits view shows.

Both read the limit's recently used keys (the `keys` ZSET, newest decision first,
at most `SCAN_KEYS` of them) and each one's state hash, in two pipelined round
trips: bounded however many keys the limit has seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from chronoq.core.limits import Kind, Limit
from chronoq.redis.limits import KeyUsage, LimitStore

SCAN_KEYS = 200  # recently used keys read per look
HOT_MAX = 100


@dataclass(frozen=True, slots=True)
class LimitState:
    """One limit now: its numbers, and the use of the keys read."""

    limit: Limit
    keys_tracked: int  # keys with a decision in the last week (the keys ZSET)
    keys_read: int  # of which were read (the most recent, at most SCAN_KEYS)
    keys_in_use: int  # read keys with a start in the current period
    used: int  # starts in the current period over the keys read
    utilization: float  # the busiest key's used / cap
    hottest: str | None  # that key
    tokens: int | None  # rate limits: starts the busiest key may make at once now
    hot: list[KeyUsage]  # the busiest keys, most used first

    def to_dict(self) -> dict[str, Any]:
        limit = self.limit
        return {
            "name": limit.name,
            "kind": limit.kind.value,
            "cap": limit.limit,
            "window": limit.period.value,
            "window_seconds": limit.period.ms / 1000,
            "burst": limit.burst,
            "min_gap": limit.min_gap,
            "tz": limit.tz,
            "definition": limit.to_dict(),
            "keys_tracked": self.keys_tracked,
            "keys_read": self.keys_read,
            "keys_in_use": self.keys_in_use,
            "used": self.used,
            "utilization": round(self.utilization, 4),
            "hottest": self.hottest,
            "tokens": self.tokens,
            "hot_keys": [u.to_dict() for u in self.hot],
        }


async def hot_keys(store: LimitStore, name: str, top: int = 10) -> list[KeyUsage]:
    """The `top` keys of limit `name` with the most use in the current period,
    among its SCAN_KEYS most recently used (ties: most recently used first)."""
    if not 1 <= top <= HOT_MAX:
        raise ValueError(f"top must be within 1..{HOT_MAX}, got {top}")
    usages = await _recent_usage(store, name)
    return _ranked(usages)[:top]


async def live_state(store: LimitStore, name: str, *, top: int = 5) -> LimitState:
    """Limit `name` now (LimitNotFound if none), with its `top` hot keys."""
    limit = await store.get(name)
    tracked = int(await store.redis.zcard(store.keys.limit(name).keys))
    usages = await _recent_usage(store, name)
    ranked = _ranked(usages)
    busiest = max(usages, key=lambda u: u.utilization, default=None)
    return LimitState(
        limit=limit,
        keys_tracked=tracked,
        keys_read=len(usages),
        keys_in_use=sum(1 for u in usages if u.used > 0),
        used=sum(u.used for u in usages),
        utilization=busiest.utilization if busiest else 0.0,
        hottest=busiest.key if busiest and busiest.used else None,
        tokens=_tokens_of(limit, busiest),
        hot=ranked[: max(0, min(top, HOT_MAX))],
    )


async def _recent_usage(store: LimitStore, name: str) -> list[KeyUsage]:
    keys = cast(
        list[str], await store.redis.zrevrange(store.keys.limit(name).keys, 0, SCAN_KEYS - 1)
    )
    return await store.usage(name, keys)


def _ranked(usages: list[KeyUsage]) -> list[KeyUsage]:
    return sorted((u for u in usages if u.used > 0), key=lambda u: -u.used)


def _tokens_of(limit: Limit, busiest: KeyUsage | None) -> int | None:
    if limit.kind is not Kind.RATE:
        return None
    return busiest.tokens if busiest else limit.burst + 1
