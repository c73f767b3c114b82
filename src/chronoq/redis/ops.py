"""The operations rollups in Redis (`chronoq.core.ops`): minute, hour and day bucket
HASHes and a lifetime totals HASH, all under the hash tag `{~oprollup}`.

A write is one `ops_record.lua` call per minute touched (a batch usually touches
one), pipelined: the scheduler after a tick that fired, missed or skipped runs; a
worker on its heartbeat (its rate-limit decisions since the last beat, its memory
and CPU); a lock only when it had to wait, timed out or was lost (the happy path
writes nothing). Readers take the fewest buckets covering a window (`segments`,
as the per-job rollups do) in one pipeline of HGETALLs.
"""

from __future__ import annotations

from chronoq.core.ops import FAMILY_CAP, LOCK_EVENTS, OpsBatch, OpsCells, parse
from chronoq.core.rollups import MINUTE_MS, RESOLUTIONS, Keep, segments
from chronoq.redis.connector import AsyncRedis
from chronoq.redis.keys import OpsKeys
from chronoq.redis.scripts import SCRIPTS, ScriptArg, ScriptCall, pipelined

Call = tuple[list[str], list[ScriptArg]]  # KEYS, ARGV of one ops_record call


def record_call(
    keys: OpsKeys,
    minute: int,
    triples: list[tuple[str, str, int]],
    keep: Keep,
    family: str = "",
) -> Call:
    """The KEYS and ARGV of one minute's write (`family`: a lock event's)."""
    at_ms = minute * MINUTE_MS
    buckets, expiries = [], []
    for name, size in RESOLUTIONS:
        slot = at_ms // size
        buckets.append(keys.bucket(name, slot))
        expiries.append((slot + 1) * size + keep.of(name))
    args: list[ScriptArg] = [*expiries, FAMILY_CAP, family]
    for field, op, value in triples:
        args += [field, op, value]
    return [*buckets, keys.totals, keys.lock_families], args


def lock_event_call(keys: OpsKeys, family: str, event: str, now_ms: int, keep: Keep) -> Call:
    """One lock event (contended, timeout, lost) of `family`, counted now."""
    if event not in LOCK_EVENTS:
        raise ValueError(f"unknown lock event {event!r}")
    return record_call(keys, now_ms // MINUTE_MS, [(event, "a", 1)], keep, family)


class OpsStore:
    def __init__(self, redis: AsyncRedis, keys: OpsKeys, keep: Keep | None = None) -> None:
        self.redis = redis
        self.keys = keys
        self.keep = keep or Keep()

    async def write(self, batch: OpsBatch) -> int:
        """Add a batch (one round trip); returns the script calls sent."""
        calls: list[ScriptCall] = []
        for minute, triples in batch.by_minute():
            keys, args = record_call(self.keys, minute, triples, self.keep)
            calls.append((SCRIPTS.ops_record, keys, args))
        if calls:
            await pipelined(self.redis, calls)
        return len(calls)

    async def read(self, start_ms: int, end_ms: int, now_ms: int) -> OpsCells:
        """The buckets covering [start, end), summed (whole buckets)."""
        parts = segments(start_ms, end_ms, now_ms, self.keep)
        if not parts:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for name, slot in parts:
                pipe.hgetall(self.keys.bucket(name, slot))
            replies = list(await pipe.execute())
        return parse(replies)

    async def totals(self) -> OpsCells:
        raw = await self.redis.hgetall(self.keys.totals)
        return parse([{str(k): str(v) for k, v in raw.items()}])
