"""The HTTP API's Idempotency-Key replies (keys.py `AccessKeys.reply`).

A POST that creates something, sent with an `Idempotency-Key`, claims the key with
one SET NX GET: the reply says at once whether this is the first request with that
key (the claim is stored, nothing returned), one still running, or one that ended,
with its stored response to replay. The claim records a fingerprint of the request
(method, path, body), so a key reused for a different request is told apart.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, cast

from chronoq.redis.connector import AsyncRedis
from chronoq.redis.keys import Keyspace

REPLY_TTL_MS = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class StoredReply:
    """What an earlier request with the same key left: its fingerprint, and, once it
    ended, its status and JSON body (`status` 0: still running)."""

    fingerprint: str
    status: int = 0
    body: Any = None

    @property
    def pending(self) -> bool:
        return self.status == 0

    def to_json(self) -> str:
        return json.dumps({"f": self.fingerprint, "s": self.status, "b": self.body})

    @classmethod
    def from_json(cls, text: str | bytes) -> StoredReply:
        data = json.loads(text)
        return cls(str(data.get("f", "")), int(data.get("s", 0)), data.get("b"))


class IdempotencyStore:
    def __init__(self, redis: AsyncRedis, keyspace: Keyspace, ttl_ms: int = REPLY_TTL_MS) -> None:
        self.redis = redis
        self.keys = keyspace.access
        self.ttl_ms = ttl_ms

    def _key(self, key: str) -> str:
        return self.keys.reply(hashlib.sha256(key.encode()).hexdigest())

    async def claim(self, key: str, fingerprint: str) -> StoredReply | None:
        """Claim `key` for this request (None: claimed, go ahead), or the reply an
        earlier request with that key left. One SET NX GET PX."""
        claim = StoredReply(fingerprint).to_json()
        old = await self.redis.set(self._key(key), claim, nx=True, get=True, px=self.ttl_ms)
        return None if old is None else StoredReply.from_json(cast(str | bytes, old))

    async def complete(self, key: str, fingerprint: str, status: int, body: Any) -> None:
        """Store the response to replay (the key keeps its 24 h from the claim)."""
        reply = StoredReply(fingerprint, status, body).to_json()
        await self.redis.set(self._key(key), reply, xx=True, keepttl=True)

    async def release(self, key: str) -> None:
        """Forget a claim whose request failed: the key may be used again."""
        await self.redis.delete(self._key(key))
