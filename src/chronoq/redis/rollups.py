"""The metrics rollups in Redis: one HASH per queue and minute, hour and day.

A worker writes each batch's counts (`chronoq.core.rollups.RollupBatch`) into the
three resolutions at once, in one pipelined round trip of HINCRBYs (one per
non-zero field and resolution) and a PEXPIREAT per bucket: no roll-up job, nothing
to race between workers, and each resolution expires on its own (`Keep`), so memory
is bounded by tasks x buckets kept. The lifetime histogram HASH (Prometheus) gets
the bucket counts too. Readers take the fewest buckets covering a window
(`segments`) in one pipeline of HGETALLs per queue.
"""

from __future__ import annotations

from collections.abc import Sequence

from chronoq.core.rollups import (
    COUNTS,
    RESOLUTIONS,
    SEPARATOR,
    Keep,
    RollupBatch,
    parse_cells,
    segments,
)
from chronoq.redis.connector import AsyncRedis
from chronoq.redis.keys import Keyspace

_LIFETIME_SKIP = frozenset(COUNTS)  # the queue's stats hash has lifetime counts already


class RollupStore:
    def __init__(self, redis: AsyncRedis, keyspace: Keyspace, keep: Keep | None = None) -> None:
        self.redis = redis
        self.keys = keyspace
        self.keep = keep or Keep()

    async def write(self, batch: RollupBatch) -> int:
        """Add a batch's counts; returns the commands sent (one round trip)."""
        sent = 0
        async with self.redis.pipeline(transaction=False) as pipe:
            expiring: dict[str, int] = {}
            for queue, task, minute, fields in batch.fields():
                q = self.keys.queue(queue)
                at_ms = minute * 60_000
                for name, size in RESOLUTIONS:
                    slot = at_ms // size
                    key = q.rollup(name, slot)
                    for field, value in fields.items():
                        pipe.hincrby(key, task + SEPARATOR + field, value)
                    expiring[key] = (slot + 1) * size + self.keep.of(name)
                    sent += len(fields)
                for field, value in fields.items():
                    if field not in _LIFETIME_SKIP:
                        pipe.hincrby(q.histograms, task + SEPARATOR + field, value)
                        sent += 1
            for key, at in expiring.items():
                pipe.pexpireat(key, at)
            sent += len(expiring)
            if sent:
                await pipe.execute()
        return sent

    async def server_ms(self) -> int:
        seconds, micros = await self.redis.time()
        return int(seconds) * 1000 + int(micros) // 1000

    async def read(
        self, queues: Sequence[str], start_ms: int, end_ms: int, now_ms: int
    ) -> dict[str, dict[str, list[int]]]:
        """Per queue, per task: the cell summed over [start, end) (whole buckets)."""
        parts = segments(start_ms, end_ms, now_ms, self.keep)
        if not queues or not parts:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for queue in queues:
                q = self.keys.queue(queue)
                for name, slot in parts:
                    pipe.hgetall(q.rollup(name, slot))
            replies = list(await pipe.execute())
        n = len(parts)
        return {queue: parse_cells(replies[i * n : (i + 1) * n]) for i, queue in enumerate(queues)}

    async def read_spans(
        self, queues: Sequence[str], spans: Sequence[tuple[int, int]], now_ms: int
    ) -> list[dict[str, dict[str, list[int]]]]:
        """`read` for many windows at once (a chart's points), in one pipeline:
        per span, per queue, per task, the cell summed over [start, end)."""
        parts = [segments(start, end, now_ms, self.keep) for start, end in spans]
        if not queues or not any(parts):
            return [{} for _ in spans]
        async with self.redis.pipeline(transaction=False) as pipe:
            for queue in queues:
                q = self.keys.queue(queue)
                for span in parts:
                    for name, slot in span:
                        pipe.hgetall(q.rollup(name, slot))
            replies = list(await pipe.execute())
        out: list[dict[str, dict[str, list[int]]]] = [{} for _ in spans]
        at = 0
        for queue in queues:
            for i, span in enumerate(parts):
                out[i][queue] = parse_cells(replies[at : at + len(span)])
                at += len(span)
        return out
