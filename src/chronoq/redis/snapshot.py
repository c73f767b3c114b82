"""One cheap read of everything the observe read models need (health, metrics).

What a scrape or a health check costs must not grow with the number of jobs, and
must stay a few round trips however many queues there are. So only O(1) reads
(ZCARD, small HGETALLs, the head of a ZSET, INFO, TIME, PTTL), pipelined: per
queue 8 commands (the sizes, the stats and lifetime histograms hashes, the head
of the ready ZSET), per live process 2, sent `CHUNK` queues per round trip. The
discovery reads (the queue set, the worker and scheduler indexes, the server's
clock and INFO, the operations totals of `chronoq.core.ops`) ride in the first
trip together with the queues and processes the
previous read found, so a reader that is kept (the metrics endpoint's) reads in one
round trip per `CHUNK` queues; names it has not seen yet cost one more trip.

A command this user may not run (a viewer ACL has no INFO, TIME or PTTL) leaves
its part unknown (None or empty), never fails the read; a lost connection does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio.cluster import RedisCluster

from chronoq.core.ops import parse as parse_ops
from chronoq.core.rollups import parse_cells
from chronoq.redis.connector import AsyncRedis
from chronoq.redis.errors import refused_command
from chronoq.redis.keys import Keyspace
from chronoq.redis.liveness import CLOCK_FIELD, TTL_FIELD
from chronoq.redis.scripts import SCRIPTS

CHUNK = 50  # queues per round trip
INFO_SECTIONS = ("server", "memory", "persistence")
# The queue's index ZSETs, by the job status their members have (scheduled also holds
# jobs awaiting a retry).
SIZES = {
    "queued": "ready",
    "scheduled": "scheduled",
    "running": "active",
    "dead": "dead",
    "blocked": "blocked",
}
# The lifetime counters the scripts keep in a queue's stats hash (HINCRBY), the
# only fields read as counters (anything else a hash may gain is left out: metrics
# labels must stay a known, bounded set).
QUEUE_COUNTERS = (
    "succeeded",
    "retried",
    "dead",
    "lost",
    "throttled",
    "skipped",
    "cancelled",
    "expired",
    "missing",
    "trimmed",
)
_PER_QUEUE = len(SIZES) + 4  # the sizes, the stats and histograms hashes, the ready head,
# and whether it is paused


@dataclass(frozen=True, slots=True)
class QueueState:
    name: str
    sizes: dict[str, int]  # by job status (SIZES' keys)
    counters: dict[str, int]  # the queue's lifetime counters (its stats hash)
    head_id: str | None  # the job next in line, if any
    # Lifetime wait/run/lateness bucket counts per task (cells of chronoq.core.rollups).
    histograms: dict[str, list[int]] = field(default_factory=dict)
    paused: bool = False  # `chronoq queues pause`: workers claim none of its jobs


@dataclass(frozen=True, slots=True)
class Beat:
    """One heartbeat as read: the index entry and, while it lives, the hash."""

    id: str
    last_beat_ms: int  # index score: when the process last beat (its clock)
    info: dict[str, str]  # empty: the hash expired (the process stopped beating)
    ttl_left_ms: int | None  # the hash's PTTL; None when unknown

    @property
    def alive(self) -> bool:
        return bool(self.info)

    def clock_skew(self, server_ms: int | None) -> float | None:
        """Seconds the process's clock is ahead of the server's (negative: behind),
        from the clock it wrote and when the server says the write happened."""
        if server_ms is None or self.ttl_left_ms is None or self.ttl_left_ms < 0:
            return None
        try:
            clock = float(self.info[CLOCK_FIELD])
            ttl = int(self.info[TTL_FIELD])
        except (KeyError, ValueError):
            return None
        written_ms = server_ms - (ttl - self.ttl_left_ms)
        return round(clock - written_ms / 1000, 3)


@dataclass(frozen=True, slots=True)
class Snapshot:
    server_ms: int | None  # the server's clock (TIME); None when TIME is denied
    queues: list[QueueState]
    workers: list[Beat]
    schedulers: list[Beat]
    active_schedules: int | None  # schedules with a due time (not paused, not over)
    info: dict[str, dict[str, Any]]  # INFO sections; {} for one this user may not read
    round_trips: int = 0
    # Lifetime operations counts (chronoq.core.ops): kind -> subject -> name -> n.
    ops: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)


@dataclass
class _Seen:
    queues: list[str] = field(default_factory=list)
    workers: list[str] = field(default_factory=list)
    schedulers: list[str] = field(default_factory=list)


class SnapshotReader:
    """Reads `Snapshot`s; remembers the names it saw, to read them in the first trip."""

    def __init__(self, redis: AsyncRedis, keyspace: Keyspace) -> None:
        self.redis = redis
        self.keys = keyspace
        self._seen = _Seen()

    async def read(self) -> Snapshot:
        seen = self._seen
        first = seen.queues[:CHUNK]
        # A Cluster pipeline carries no keyless command (TIME, INFO): read them apart.
        cluster = isinstance(self.redis, RedisCluster)
        async with self.redis.pipeline(transaction=False) as pipe:
            if not cluster:
                pipe.time()
            pipe.smembers(self.keys.queues)
            pipe.zrange(self.keys.workers, 0, -1, withscores=True)
            pipe.zrange(self.keys.schedulers, 0, -1, withscores=True)
            pipe.zcard(self.keys.schedules.due)
            pipe.hgetall(self.keys.ops.totals)
            if not cluster:
                for section in INFO_SECTIONS:
                    pipe.info(section)
            self._queue_reads(pipe, first)
            self._beat_reads(pipe, self.keys.worker, seen.workers)
            self._beat_reads(pipe, self.keys.scheduler, seen.schedulers)
            replies = list(await pipe.execute(raise_on_error=False))
        trips = 1
        if cluster:
            replies = [await self._cluster_clock(), *replies[:5], *await self._cluster_info(),
                       *replies[5:]]  # fmt: skip
            trips += 1 + len(INFO_SECTIONS)
        head = [_allowed(r) for r in replies[: 6 + len(INFO_SECTIONS)]]
        rest = replies[6 + len(INFO_SECTIONS) :]
        clock, names, worker_index, loop_index, due, ops = head[:6]
        info = {s: dict(r or {}) for s, r in zip(INFO_SECTIONS, head[6:], strict=True)}
        queues = sorted(names or ())
        states = _queue_states(first, rest[: len(first) * _PER_QUEUE])
        rest = rest[len(first) * _PER_QUEUE :]
        beats = {
            w: rest[2 * i : 2 * i + 2] for i, w in enumerate([*seen.workers, *seen.schedulers])
        }
        missing_queues = [q for q in queues if q not in states]
        workers = dict(worker_index or [])
        loops = dict(loop_index or [])
        missing_beats = [b for b in [*workers, *loops] if b not in beats]
        for start in range(0, max(len(missing_queues), 1), CHUNK):
            chunk = missing_queues[start : start + CHUNK]
            extra = missing_beats if start == 0 else []
            if not chunk and not extra:
                break
            async with self.redis.pipeline(transaction=False) as pipe:
                self._queue_reads(pipe, chunk)
                for beat_id in extra:
                    key = self.keys.worker if beat_id in workers else self.keys.scheduler
                    self._beat_reads(pipe, key, [beat_id])
                more = list(await pipe.execute(raise_on_error=False))
            trips += 1
            states.update(_queue_states(chunk, more[: len(chunk) * _PER_QUEUE]))
            more = more[len(chunk) * _PER_QUEUE :]
            beats.update({b: more[2 * i : 2 * i + 2] for i, b in enumerate(extra)})
        self._seen = _Seen(queues, list(workers), list(loops))
        return Snapshot(
            server_ms=_millis(clock),
            queues=[states[q] for q in queues],
            workers=[_beat(w, score, beats[w]) for w, score in workers.items()],
            schedulers=[_beat(s, score, beats[s]) for s, score in loops.items()],
            active_schedules=None if due is None else int(due),
            info=info,
            round_trips=trips,
            ops=parse_ops([ops]) if ops else {},
        )

    async def _cluster_clock(self) -> Any:
        """TIME through a script, on the node of the shared keys (`{~}`)."""
        try:
            seconds, micros, _ = await SCRIPTS.clock(self.redis, [self.keys.queues], [""])
        except Exception as exc:
            return exc
        return [seconds, micros]

    async def _cluster_info(self) -> list[Any]:
        """Each INFO section of the busiest primary (most memory used): the node a
        health check must worry about first."""
        replies: list[Any] = []
        for section in INFO_SECTIONS:
            try:
                by_node = await self.redis.info(section, target_nodes=RedisCluster.PRIMARIES)
            except Exception as exc:
                replies.append(exc)
                continue
            nodes = list(by_node.values()) if isinstance(by_node, dict) else [by_node]
            nodes = [n for n in nodes if isinstance(n, dict)] or [{}]
            replies.append(max(nodes, key=lambda n: int(n.get("used_memory", 0) or 0)))
        return replies

    def _queue_reads(self, pipe: Any, names: Sequence[str]) -> None:
        for name in names:
            q = self.keys.queue(name)
            for index in SIZES.values():
                pipe.zcard(getattr(q, index))
            pipe.hgetall(q.stats)
            pipe.zrange(q.ready, 0, 0)
            pipe.hgetall(q.histograms)
            pipe.exists(q.paused)

    def _beat_reads(self, pipe: Any, key_of: Any, ids: Sequence[str]) -> None:
        for beat_id in ids:
            pipe.hgetall(key_of(beat_id))
            pipe.pttl(key_of(beat_id))


def _allowed(reply: Any) -> Any:
    """A reply, or None for a command this user may not run; other errors raise."""
    if isinstance(reply, Exception):
        if refused_command(reply):
            return None
        raise reply
    return reply


def _queue_states(names: Sequence[str], replies: Sequence[Any]) -> dict[str, QueueState]:
    states = {}
    for i, name in enumerate(names):
        row = [_allowed(r) for r in replies[i * _PER_QUEUE : (i + 1) * _PER_QUEUE]]
        sizes = {status: int(n or 0) for status, n in zip(SIZES, row, strict=False)}
        stats, head, hist, paused = row[len(SIZES) : len(SIZES) + 4]
        counters = {str(k): int(v) for k, v in (stats or {}).items() if _is_int(v)}
        histograms = parse_cells([hist]) if hist else {}
        states[name] = QueueState(
            name, sizes, counters, head[0] if head else None, histograms, bool(paused)
        )
    return states


def _beat(beat_id: str, score: float, replies: Sequence[Any]) -> Beat:
    info, ttl = (_allowed(r) for r in replies)
    return Beat(beat_id, int(score), dict(info or {}), None if ttl is None else int(ttl))


def _millis(reply: Any) -> int | None:
    """TIME's (seconds, microseconds) as epoch milliseconds."""
    if not reply:
        return None
    seconds, micros = reply
    return int(seconds) * 1000 + int(micros) // 1000


def _is_int(value: Any) -> bool:
    try:
        int(value)
    except (TypeError, ValueError):
        return False
    return True
