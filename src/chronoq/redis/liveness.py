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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

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

    async def read(self) -> list[LoopBeat]:
        """Every loop in the index, alive or not: one round trip for the index, one
        for the hashes and their TTLs."""
        index = cast(
            list[tuple[str, float]],
            await self.redis.zrange(self.keys.schedulers, 0, -1, withscores=True),
        )
        if not index:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for loop_id, _ in index:
                pipe.hgetall(self.keys.scheduler(loop_id))
            replies = await pipe.execute()
        return [
            LoopBeat(str(loop_id), int(score), {str(k): str(v) for k, v in info.items()})
            for (loop_id, score), info in zip(index, replies, strict=True)
        ]


@dataclass(frozen=True, slots=True)
class LoopBeat:
    """A scheduler loop as its heartbeat says: alive while its hash lives."""

    id: str
    last_beat_ms: int  # the index score: its last beat (the loop's clock)
    info: dict[str, str]  # empty: the hash expired (the loop died without withdrawing)

    @property
    def alive(self) -> bool:
        return bool(self.info)

    def to_dict(self) -> dict[str, Any]:
        info = self.info
        return {
            "id": self.id,
            "alive": self.alive,
            "app": info.get("app"),
            "host": info.get("host"),
            "pid": _int(info.get("pid")),
            "started_at": _moment(info.get("started_at")),
            "ticked_at": _moment(info.get("ticked_at")),
            "fired": _int(info.get("fired")),
            "last_beat": datetime.fromtimestamp(self.last_beat_ms / 1000, UTC).isoformat(),
        }


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value else None
    except ValueError:
        return None


def _moment(value: str | None) -> str | None:
    """An epoch-seconds field as ISO 8601 (None when absent or unreadable)."""
    try:
        return datetime.fromtimestamp(float(value), UTC).isoformat() if value else None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A live worker as its heartbeat hash describes it (`Inspector.workers`)."""

    id: str
    host: str | None
    pid: int | None
    queues: list[str]
    concurrency: int | None
    running: int | None
    done: int | None
    started_at: str | None  # ISO 8601
    last_seen: str | None  # ISO 8601, the worker's clock at its last beat
    rss: int | None  # bytes

    @classmethod
    def from_fields(cls, info: Mapping[str, str]) -> WorkerInfo:
        queues = info.get("queues") or ""
        return cls(
            id=info.get("id", "?"),
            host=info.get("host"),
            pid=_int(info.get("pid")),
            queues=[q for q in queues.split(",") if q],
            concurrency=_int(info.get("concurrency")),
            running=_int(info.get("jobs_running")),
            done=_int(info.get("jobs_done")),
            started_at=_moment(info.get("started_at")),
            last_seen=_moment(info.get(CLOCK_FIELD)),
            rss=_int(info.get("rss")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "host": self.host,
            "pid": self.pid,
            "queues": list(self.queues),
            "concurrency": self.concurrency,
            "running": self.running,
            "done": self.done,
            "started_at": self.started_at,
            "last_seen": self.last_seen,
            "rss": self.rss,
        }
