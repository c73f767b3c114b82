"""Pausing, resuming and draining queues: the operator's brakes.

A pause is a flag key in the queue's slot (`QueueKeys.paused`) that claim.lua reads
first: while it exists no worker claims the queue's jobs, and since the pause drops
the queue's idle registrations, no enqueue hands one straight to a worker either.
Workers keep running (their other queues are unaffected) and keep waiting on the
queue's doorbell; a resume deletes the flag and rings the doorbell, so a waiting
worker claims at once and each claim rings on for the next while jobs remain.

A drain cancels every waiting job (ready, scheduled, blocked) rather than deleting
it: an operator emptying a backlog expects to see afterwards what was dropped and
why (each job ends `cancelled`, its error saying it was drained), the counts to add
up in the history, the dashboards' event streams to show it, and unique keys to be
freed so the same work can be sent again. Records then expire with the cancelled
retention like any cancel; a purge is what deletes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chronoq.core.errors import ConfigurationError
from chronoq.core.job import from_millis
from chronoq.redis.connector import AsyncRedis
from chronoq.redis.keys import Keyspace
from chronoq.redis.scripts import SCRIPTS

DRAIN_BATCH = 500  # jobs cancelled per script call (keeps each call short)
REASON_MAX = 500  # characters of a pause reason
DRAINED = "drained by an operator"


@dataclass(frozen=True, slots=True)
class QueuePause:
    """A queue's pause, as stored."""

    queue: str
    reason: str
    since: datetime
    by: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "paused": True,
            "reason": self.reason,
            "since": self.since.isoformat(),
            "by": self.by,
        }


@dataclass(frozen=True, slots=True)
class DrainResult:
    """What a drain cancelled, by where each job waited."""

    queue: str
    ready: int
    scheduled: int
    blocked: int
    missing: int  # index entries whose job record was gone (dropped)
    left: int  # waiting jobs that arrived during the drain and stay

    @property
    def cancelled(self) -> int:
        return self.ready + self.scheduled + self.blocked

    def to_dict(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "cancelled": self.cancelled,
            "ready": self.ready,
            "scheduled": self.scheduled,
            "blocked": self.blocked,
            "missing": self.missing,
            "left": self.left,
        }


class QueueControl:
    """Pause, resume and drain, on one Redis under one prefix."""

    def __init__(self, redis: AsyncRedis, keyspace: Keyspace, *, events_cap: int = 0) -> None:
        self.redis = redis
        self.keys = keyspace
        self.events_cap = events_cap

    async def pause(self, queue: str, reason: str = "", *, by: str = "") -> tuple[QueuePause, bool]:
        """Pause `queue` (a paused one gets the new reason). Returns the pause and
        whether this call started it."""
        reason = reason.strip()
        if len(reason) > REASON_MAX:
            raise ConfigurationError(f"a pause reason is at most {REASON_MAX} characters")
        q = self.keys.queue(queue)
        await self.redis.sadd(self.keys.queues, queue)  # a paused queue is listed, even empty
        fresh, since = await SCRIPTS.queue_pause(
            self.redis, [q.paused, q.idle, q.idle_leases], [reason, by]
        )
        when = from_millis(int(since))
        assert when is not None
        return QueuePause(q.queue, reason, when, by), bool(fresh)

    async def resume(self, queue: str) -> bool:
        """End the pause and wake a waiting worker; False when it was not paused."""
        q = self.keys.queue(queue)
        return bool(await SCRIPTS.queue_resume(self.redis, [q.paused, q.wake], [""]))

    async def paused(self, queues: Sequence[str]) -> dict[str, QueuePause]:
        """The pauses of those of `queues` that are paused (one round trip)."""
        if not queues:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in queues:
                pipe.hgetall(self.keys.queue(name).paused)
            replies = await pipe.execute()
        return {
            name: pause_of(name, fields)
            for name, fields in zip(queues, replies, strict=True)
            if fields
        }

    async def drain(self, queue: str, *, retention_ms: int, reason: str = DRAINED) -> DrainResult:
        """Cancel every job waiting in `queue`, a batch per call, until none is left
        of those there when it began (jobs enqueued meanwhile may be left: `left`)."""
        q = self.keys.queue(queue)
        keys = [q.ready, q.scheduled, q.blocked, q.parked_prefix, q.done, q.job_prefix,
                q.unique_prefix, q.index_prefix, q.events]  # fmt: skip
        args: list[str | int] = [DRAIN_BATCH, retention_ms, reason, self.events_cap]
        totals = [0, 0, 0, 0]
        budget: int | None = None
        left = 0
        while budget is None or budget > 0:
            reply = [int(n) for n in await SCRIPTS.queue_drain(self.redis, keys, args)]
            done = sum(reply[:4])
            totals = [a + b for a, b in zip(totals, reply[:4], strict=True)]
            left = reply[4]
            if budget is None:
                budget = left  # those waiting now; newcomers may outrun a drain forever
            else:
                budget -= done
            if left == 0 or done == 0:
                break
        ready, scheduled, blocked, missing = totals
        return DrainResult(q.queue, ready, scheduled, blocked, missing, left)


def pause_of(queue: str, fields: dict[Any, Any]) -> QueuePause:
    since = from_millis(int(fields.get("since") or 0))
    assert since is not None
    return QueuePause(queue, str(fields.get("reason", "")), since, str(fields.get("by", "")))
