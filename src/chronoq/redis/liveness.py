"""Heartbeats of scheduler loops, and what every heartbeat carries for clock checks.

A scheduler loop (in a worker, or `chronoq scheduler`) beats like a worker does: a
HASH describing it that expires after five missed beats, and an index ZSET scored
by its last beat. A loop that stops gracefully withdraws both; one that dies leaves
its index entry behind with the hash gone, which is how `chronoq health` tells a
dead loop from one that never ran. Entries silent for `FORGET_AFTER` are dropped by
the next beat of any loop, so a crash is reported for that long, not forever.

Every heartbeat (workers' too) carries the process's wall clock (`CLOCK_FIELD`,
seconds) and the TTL it set (`TTL_FIELD`, ms): the hash's remaining PTTL then tells
a reader when, by the server's clock, the beat was written, and so how far the
process's clock is from the server's, without a script or a second round trip.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from chronoq.redis.connector import AsyncRedis
from chronoq.redis.keys import Keyspace

CLOCK_FIELD = "last_seen"  # the process's wall clock at the beat, epoch seconds
TTL_FIELD = "ttl_ms"  # the TTL the beat set on its hash
FORGET_AFTER = 600.0  # seconds a dead loop stays reported (index entry) after its last beat


def beat_fields(info: Mapping[str, object], ttl: float) -> dict[str, str]:
    """A heartbeat hash: `info` as strings, with the TTL and (unless given) the clock."""
    fields = {k: str(v) for k, v in info.items()}
    fields.setdefault(CLOCK_FIELD, f"{time.time():.3f}")
    fields[TTL_FIELD] = str(int(ttl * 1000))
    return fields


class SchedulerLoops:
    """The scheduler loops' heartbeats under one prefix."""

    def __init__(self, redis: AsyncRedis, keyspace: Keyspace) -> None:
        self.redis = redis
        self.keys = keyspace

    async def beat(self, loop_id: str, info: Mapping[str, object], ttl: float) -> None:
        key = self.keys.scheduler(loop_id)
        now_ms = int(time.time() * 1000)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, mapping={k: v for k, v in beat_fields(info, ttl).items()})
            pipe.pexpire(key, int(ttl * 1000))
            pipe.zadd(self.keys.schedulers, {loop_id: now_ms})
            pipe.zremrangebyscore(
                self.keys.schedulers, "-inf", f"({now_ms - int(FORGET_AFTER * 1000)}"
            )
            await pipe.execute()

    async def withdraw(self, loop_id: str) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.delete(self.keys.scheduler(loop_id))
            pipe.zrem(self.keys.schedulers, loop_id)
            await pipe.execute()
