"""Reading queue state: jobs, listings, counts and live workers.

Read-only and separate from the broker, so operators' tools (CLI, HTTP API,
dashboard) can inspect without holding anything that changes state.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import NoPermissionError

from chronoq.core.errors import JobNotFound
from chronoq.core.job import Job, JobStatus
from chronoq.redis.keys import Keyspace


@dataclass(frozen=True, slots=True)
class QueueCounts:
    queue: str
    waiting: int
    scheduled: int
    running: int
    dead: int
    finished: int
    stats: dict[str, int]
    blocked: int = 0  # parked behind a full lock/concurrency key


class Inspector:
    def __init__(self, redis: Redis, keyspace: Keyspace) -> None:
        self.redis = redis
        self.keys = keyspace

    async def queues(self) -> list[str]:
        members = await self.redis.smembers(self.keys.queues)
        return sorted(cast(set[str], members))

    async def find_queue(self, job_id: str, queue: str | None = None) -> str:
        """The queue holding `job_id` (one round trip over all queues)."""
        candidates = [queue] if queue else await self.queues()
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in candidates:
                pipe.exists(self.keys.queue(name).job(job_id))
            found = await pipe.execute()
        for name, exists in zip(candidates, found, strict=True):
            if exists:
                return name
        raise JobNotFound(f"no job with id {job_id!r}")

    async def get_job(self, job_id: str, queue: str | None = None) -> Job:
        name = await self.find_queue(job_id, queue)
        q = self.keys.queue(name)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(q.job(job_id))
            pipe.get(q.result(job_id))
            fields, result = await pipe.execute()
        if not fields:
            raise JobNotFound(f"no job with id {job_id!r}")
        return Job.from_fields(job_id, name, fields, result)

    async def get_jobs(self, queue: str, ids: Sequence[str]) -> list[Job]:
        q = self.keys.queue(queue)
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hgetall(q.job(job_id))
                pipe.get(q.result(job_id))
            replies = await pipe.execute()
        jobs = []
        for job_id, fields, result in zip(ids, replies[::2], replies[1::2], strict=True):
            if fields:
                jobs.append(Job.from_fields(job_id, queue, fields, result))
        return jobs

    async def list_jobs(
        self, *, status: JobStatus | None = None, queue: str | None = None, limit: int = 50
    ) -> list[Job]:
        """Newest first within each index; filtered by status."""
        names = [queue] if queue else await self.queues()
        found: list[Job] = []
        for name in names:
            for index in _indexes_for(status):
                key = getattr(self.keys.queue(name), index)
                ids = cast(
                    list[str], await self.redis.zrange(key, 0, limit - 1, desc=index != "ready")
                )
                jobs = await self.get_jobs(name, ids)
                found += [j for j in jobs if status is None or j.status == status]
        found.sort(key=lambda j: j.id, reverse=True)  # ids are time-ordered
        return found[:limit]

    async def queue_counts(self) -> list[QueueCounts]:
        names = await self.queues()
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                q = self.keys.queue(name)
                for key in (q.ready, q.scheduled, q.active, q.dead, q.done, q.blocked):
                    pipe.zcard(key)
                pipe.hgetall(q.stats)
            replies = await pipe.execute()
        out = []
        for i, name in enumerate(names):
            row = replies[i * 7 : i * 7 + 7]
            stats = {k: int(v) for k, v in row[6].items()}
            waiting, scheduled, running, dead, finished, blocked = (int(n) for n in row[:6])
            out.append(
                QueueCounts(name, waiting, scheduled, running, dead, finished, stats, blocked)
            )
        return out

    async def workers(self) -> list[dict[str, str]]:
        """Live workers; ids whose heartbeat key expired are pruned from the index."""
        ids = cast(list[str], await self.redis.zrange(self.keys.workers, 0, -1))
        async with self.redis.pipeline(transaction=False) as pipe:
            for worker_id in ids:
                pipe.hgetall(self.keys.worker(worker_id))
            infos = await pipe.execute()
        dead = [w for w, info in zip(ids, infos, strict=True) if not info]
        if dead:
            # Tidying, not the answer: a read-only (viewer) user may not, and need not.
            with contextlib.suppress(NoPermissionError):
                await self.redis.zrem(self.keys.workers, *dead)
        return [info for info in infos if info]


_INDEXES: dict[JobStatus | None, tuple[str, ...]] = {
    None: ("ready", "scheduled", "blocked", "active", "dead", "done"),
    JobStatus.BLOCKED: ("blocked",),
    JobStatus.QUEUED: ("ready",),
    JobStatus.SCHEDULED: ("scheduled",),
    JobStatus.RETRYING: ("scheduled",),
    JobStatus.RUNNING: ("active",),
    JobStatus.DEAD: ("dead",),
}


def _indexes_for(status: JobStatus | None) -> tuple[str, ...]:
    """The index ZSETs that hold jobs of `status` (finished ones share 'done')."""
    return _INDEXES.get(status, ("done",))
