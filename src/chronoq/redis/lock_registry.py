"""The locks operators see: who holds each, its fencing token and lease, and force
release.

Listing reads the registry ZSET (`Keyspace.locks`: name -> last acquire ms), which
every acquire writes in its own round trip (`chronoq.redis.locks`), then each
lock's holder, PTTL and fence in one pipeline: the cost grows with the number of
lock names, never with the keyspace. A lock's scripts live in the lock's own slot
(`{lock:NAME}`), so the registry cannot be written inside the acquire script on a
Cluster; it is the ZADD pipelined beside it. A name whose lock has been free for
`FORGET_AFTER` is dropped by the next listing (an acquire landing between that
listing's read and its removal leaves the lock unlisted until its next acquire).

`scan=True` also finds held locks the registry never heard of (taken by a chronoq
version before the registry): SCAN with MATCH on the lock prefix only, which still
walks the whole keyspace server-side: an occasional repair, not a view's query.

The holder's token is a secret (whoever has it may renew or release): listings
show a short digest of it, enough to tell two holders apart.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from redis.exceptions import NoPermissionError

from chronoq.core.errors import ConfigurationError
from chronoq.core.job import from_millis
from chronoq.core.names import validate_lock_name
from chronoq.redis.connector import AsyncRedis
from chronoq.redis.keys import Keyspace
from chronoq.redis.scripts import SCRIPTS

FORGET_AFTER_MS = 86_400_000  # a name free this long leaves the registry
WAKE_TOKEN_MS = 5000  # as a release's (chronoq.control.lease)
LIST_MAX = 1000  # most lock names one listing reads


@dataclass(frozen=True, slots=True)
class LockInfo:
    """One lock as the registry and its keys say it is now."""

    name: str
    held: bool
    holder: str | None  # digest of the holder's token (not the token)
    fence: int  # the latest acquire's fencing token (0: never acquired)
    ttl_ms: int | None  # the lease left; None when free (-1: a holder key without expiry)
    last_acquired: datetime | None  # as the registry recorded it (the acquirer's clock)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "held": self.held,
            "holder": self.holder,
            "fence": self.fence,
            "ttl_ms": self.ttl_ms,
            "ttl": None if self.ttl_ms is None or self.ttl_ms < 0 else self.ttl_ms / 1000,
            "last_acquired": self.last_acquired.isoformat() if self.last_acquired else None,
        }


@dataclass(frozen=True, slots=True)
class ForcedRelease:
    name: str
    released: bool  # False: it was free (or re-acquired past the expected fence)
    fence: int  # the fence of the holder removed (or the current one)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "released": self.released, "fence": self.fence}


class LockRegistry:
    def __init__(self, redis: AsyncRedis, keyspace: Keyspace) -> None:
        self.redis = redis
        self.keys = keyspace

    async def all(self, *, held_only: bool = False, scan: bool = False) -> list[LockInfo]:
        """Every registered lock (the most recently acquired first, at most LIST_MAX),
        free ones too unless `held_only`; with `scan`, held locks found by SCAN too."""
        entries = cast(
            list[tuple[str, float]],
            await self.redis.zrevrange(self.keys.locks, 0, LIST_MAX - 1, withscores=True),
        )
        acquired = {str(name): int(score) for name, score in entries}
        if scan:
            for name in await self._scan_held():
                acquired.setdefault(name, 0)
        names = list(acquired)
        infos = await self._read(names, acquired)
        await self._forget([i for i in infos if not i.held and _stale(acquired[i.name])])
        return [i for i in infos if i.held or not held_only]

    async def get(self, name: str) -> LockInfo:
        validate_lock_name(name)
        score = await self.redis.zscore(self.keys.locks, name)
        return (await self._read([name], {name: int(score or 0)}))[0]

    async def force_release(self, name: str, *, fence: int | None = None) -> ForcedRelease:
        """Take the lock from its holder: the next acquire gets a higher fence and the
        former holder's renewal fails (LockLost). With `fence`, only if the lock is
        still held at that fence (not re-acquired since the operator looked)."""
        k = self.keys.lock(name)
        if fence is not None and fence < 1:
            raise ConfigurationError(f"a lock's fence is a whole number >= 1, got {fence}")
        args: list[str | int] = [WAKE_TOKEN_MS, "" if fence is None else fence]
        released, current = await SCRIPTS.lock_force_release(
            self.redis, [k.holder, k.fence, k.wake], args
        )
        return ForcedRelease(k.name, bool(released), int(current))

    async def _read(self, names: list[str], acquired: dict[str, int]) -> list[LockInfo]:
        if not names:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                k = self.keys.lock(name)
                pipe.get(k.holder)
                pipe.pttl(k.holder)
                pipe.get(k.fence)
            replies = await pipe.execute()
        out = []
        for i, name in enumerate(names):
            holder, ttl, fence = replies[3 * i : 3 * i + 3]
            held = holder is not None
            out.append(
                LockInfo(
                    name=name,
                    held=held,
                    holder=_digest(str(holder)) if held else None,
                    fence=int(fence or 0),
                    ttl_ms=int(ttl) if held else None,
                    last_acquired=from_millis(acquired[name]) if acquired.get(name) else None,
                )
            )
        return out

    async def _forget(self, free: list[LockInfo]) -> None:
        if free:
            # Tidying, not the answer: a read-only (viewer) user may not, and need not.
            with contextlib.suppress(NoPermissionError):
                await self.redis.zrem(self.keys.locks, *(i.name for i in free))

    async def _scan_held(self) -> list[str]:
        """Names of held locks, by SCAN MATCH on the lock key pattern."""
        pattern = f"{_glob_escape(self.keys.prefix)}:{{lock:*}}:holder"
        head = f"{self.keys.prefix}:{{lock:"
        found = []
        async for key in self.redis.scan_iter(match=pattern, count=1000):
            text = cast(str, key)
            found.append(text[len(head) : -len("}:holder")])
        return found


def _stale(acquired_ms: int) -> bool:
    return acquired_ms < time.time() * 1000 - FORGET_AFTER_MS


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)
