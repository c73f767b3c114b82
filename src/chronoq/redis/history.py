"""Reading the job history's secondary indexes and failure groups (and marking
failures handled). The indexes are written by the outcome scripts (`index_*` and
`note_failure` in _lib.lua); `chronoq.observe` builds its read models on this.

Reads use only ZRANGE, ZCARD, ZMSCORE, HMGET and HGETALL, which the read-only
viewer user may run (see the README's ACL rules).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from chronoq.redis.keys import Keyspace
from chronoq.redis.scripts import SCRIPTS, pipelined

Entry = tuple[float, str]  # (score ms, job id)


@dataclass(frozen=True, slots=True)
class RangeRead:
    """Newest first from `key`: scores in [low, high] (`high` may be '(ms' or
    '+inf'), skipping `offset` entries, at most `count`."""

    key: str
    high: str
    low: str
    offset: int
    count: int


@dataclass(frozen=True, slots=True)
class GroupRecord:
    """One failure group as one queue holds it."""

    queue: str
    fingerprint: str
    fields: dict[str, str]
    dead: int  # of its jobs in the dead-letter queue now
    accounts: list[str]  # most recent first, at most ACCOUNTS_SHOWN
    account_count: int


ACCOUNTS_SHOWN = 20


class HistoryStore:
    def __init__(self, redis: Redis, keyspace: Keyspace) -> None:
        self.redis = redis
        self.keys = keyspace

    async def sizes(self, keys: Sequence[str]) -> list[int]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.zcard(key)
            return [int(n) for n in await pipe.execute()]

    async def ranges(self, reads: Sequence[RangeRead]) -> list[list[Entry]]:
        """Each read's entries, one round trip for all."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for r in reads:
                pipe.execute_command(
                    "ZRANGE", r.key, r.high, r.low, "BYSCORE", "REV",
                    "LIMIT", r.offset, r.count, "WITHSCORES",
                )  # fmt: skip
            replies = await pipe.execute()
        return [_entries(reply) for reply in replies]

    async def fields(
        self, items: Sequence[tuple[str, str]], names: Sequence[str]
    ) -> list[list[str | None]]:
        """HMGET `names` of each (queue, job id)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for queue, job_id in items:
                pipe.hmget(self.keys.queue(queue).job(job_id), list(names))
            return list(await pipe.execute())

    async def memberships(self, checks: Sequence[tuple[str, Sequence[str]]]) -> list[list[bool]]:
        """For each (index, ids): whether each id is in that index (one ZMSCORE
        each, one round trip for all)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, ids in checks:
                pipe.zmscore(key, list(ids))
            replies = await pipe.execute()
        return [[score is not None for score in reply] for reply in replies]

    async def group_ids(self, queue: str) -> list[str]:
        """Fingerprints of the queue's failure groups, the latest failing first."""
        q = self.keys.queue(queue)
        return [str(fp) for fp in await self.redis.zrange(q.groups, 0, -1, desc=True)]

    async def groups(self, queue: str, fingerprints: Sequence[str]) -> list[GroupRecord]:
        q = self.keys.queue(queue)
        async with self.redis.pipeline(transaction=False) as pipe:
            for fp in fingerprints:
                pipe.hgetall(q.group(fp))
                pipe.zcard(q.index("d", "g", fp))
                pipe.zrange(q.group_accounts(fp), 0, ACCOUNTS_SHOWN - 1, desc=True)
                pipe.zcard(q.group_accounts(fp))
            replies = await pipe.execute()
        out = []
        for i, fp in enumerate(fingerprints):
            fields, dead, accounts, account_count = replies[i * 4 : i * 4 + 4]
            if fields:
                accts = [str(a) for a in accounts]
                out.append(GroupRecord(queue, fp, fields, int(dead), accts, int(account_count)))
        return out

    async def group_dead(self, queue: str, fingerprint: str, offset: int, count: int) -> list[str]:
        """Ids of the group's dead jobs, oldest first."""
        key = self.keys.queue(queue).index("d", "g", fingerprint)
        return [str(i) for i in await self.redis.zrange(key, offset, offset + count - 1)]

    async def resolve(self, queue: str, kind: str, target: str, note: str) -> Any:
        """resolve.lua: the resolution's ms, False (no such one), or a job's status."""
        q = self.keys.queue(queue)
        calls = [(SCRIPTS.resolve, [q.job_prefix, q.index_prefix], [kind, target, note])]
        return (await pipelined(self.redis, calls))[0]


def _entries(reply: Any) -> list[Entry]:
    """A WITHSCORES reply: flat [member, score, ...] (RESP2) or pairs (RESP3)."""
    if reply and isinstance(reply[0], list | tuple):
        return [(float(score), str(member)) for member, score in reply]
    return [(float(reply[i + 1]), str(reply[i])) for i in range(0, len(reply), 2)]
