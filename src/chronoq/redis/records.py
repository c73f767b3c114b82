"""Small JSON records under a namespace: what domain code built on the public API
(the connectors) keeps between jobs, such as a URL's ETag, a cached robots.txt or a
search's results. One key per record, each with an optional time to live; no
multi-key atomicity is offered (a record is written whole, the last write wins).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from redis.asyncio import Redis

from chronoq.core import serialization
from chronoq.core.errors import ConfigurationError
from chronoq.core.names import validate_lock_name
from chronoq.redis.keys import Keyspace


class Records:
    """JSON values by key in one namespace: `client.records("robots")`.

    `put(key, value, ttl=None)` stores `value` (anything JSON encodes) for `ttl`
    seconds (None: until deleted), `get(key)` returns it or None, `get_many(keys)`
    reads several in one round trip, `delete(key)` forgets it. Keys: 1-512
    characters without braces; namespaces likewise.
    """

    def __init__(self, redis: Redis, keys: Keyspace, namespace: str) -> None:
        self.redis = redis
        self.namespace = validate_lock_name(namespace, what="records namespace")
        self._keys = keys

    def _key(self, key: str) -> str:
        return self._keys.record(self.namespace, key)

    async def put(self, key: str, value: Any, *, ttl: float | None = None) -> None:
        if ttl is not None and ttl <= 0:
            raise ConfigurationError(f"record {key!r}: ttl must be > 0 seconds, got {ttl}")
        text = serialization.dumps(value, what=f"record {key!r}")
        px = None if ttl is None else max(1, int(ttl * 1000))
        await self.redis.set(self._key(key), text, px=px)

    async def get(self, key: str) -> Any:
        raw = await self.redis.get(self._key(key))
        return None if raw is None else serialization.loads(raw)

    async def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The records that exist among `keys` (missing ones are left out)."""
        names = list(keys)
        if not names:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.get(self._key(name))
            raws = await pipe.execute()
        return {
            n: serialization.loads(r) for n, r in zip(names, raws, strict=True) if r is not None
        }

    async def delete(self, key: str) -> bool:
        """Whether a record was there."""
        return bool(await self.redis.delete(self._key(key)))
