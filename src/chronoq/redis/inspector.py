"""Reading queue state: jobs, listings, counts and live workers.

Read-only and separate from the broker, so operators' tools (CLI, HTTP API,
dashboard) can inspect without holding anything that changes state.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import NoPermissionError

from chronoq.core.errors import JobNotFound
from chronoq.core.ids import id_tag, queue_tag
from chronoq.core.job import Field, Job, JobStatus
from chronoq.core.retention import FINISHED_STATES
from chronoq.redis.keys import Keyspace, QueueKeys
from chronoq.redis.queue_control import QueuePause, pause_of


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
    pause: QueuePause | None = None  # set while the queue is paused (no claims)

    @property
    def paused(self) -> bool:
        return self.pause is not None

    def to_dict(self) -> dict[str, Any]:
        pause = self.pause
        return {
            "queue": self.queue,
            "waiting": self.waiting,
            "scheduled": self.scheduled,
            "blocked": self.blocked,
            "running": self.running,
            "dead": self.dead,
            "finished": self.finished,
            "stats": dict(self.stats),
            "paused": pause is not None,
            "paused_reason": pause.reason if pause else None,
            "paused_since": pause.since.isoformat() if pause else None,
            "paused_by": pause.by if pause else None,
        }


@dataclass(frozen=True, slots=True)
class RunningJob:
    """A leased job: its queue, id, task and when its attempt started (server ms)."""

    queue: str
    id: str
    task: str
    started_ms: int


RUNNING_READ = 50  # leased jobs read per queue by `running`


class Inspector:
    def __init__(self, redis: Redis, keyspace: Keyspace) -> None:
        self.redis = redis
        self.keys = keyspace

    async def queues(self) -> list[str]:
        members = await self.redis.smembers(self.keys.queues)
        return sorted(cast(set[str], members))

    async def find_queue(self, job_id: str, queue: str | None = None) -> str:
        """The queue holding `job_id`. Its id carries its queue's tag (`chronoq.core.ids`):
        only the queues with that tag are asked (almost always one); the others only
        for an id without a matching tag (made before tags, or by hand)."""
        found: str | None = None
        if queue:
            found = await self._holder(job_id, [queue])
        else:
            names = await self.queues()
            tag = id_tag(job_id)
            tagged = [name for name in names if queue_tag(name) == tag]
            found = await self._holder(job_id, tagged)
            if found is None:
                found = await self._holder(job_id, [n for n in names if n not in tagged])
        if found is None:
            raise JobNotFound(f"no job with id {job_id!r}")
        return found

    async def _holder(self, job_id: str, candidates: Sequence[str]) -> str | None:
        """The first of `candidates` holding the job (one round trip), or None."""
        if not candidates:
            return None
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in candidates:
                pipe.exists(self.keys.queue(name).job(job_id))
            found = await pipe.execute()
        return next((n for n, e in zip(candidates, found, strict=True) if e), None)

    async def job_record(
        self, job_id: str, queue: str | None = None
    ) -> tuple[str, dict[str, str], str | None]:
        """(queue, every field of the job's hash, its result or None): one round trip
        once its queue is known. JobNotFound when there is no such job."""
        name = await self.find_queue(job_id, queue)
        q = self.keys.queue(name)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(q.job(job_id))
            pipe.get(q.result(job_id))
            fields, result = await pipe.execute()
        if not fields:
            raise JobNotFound(f"no job with id {job_id!r}")
        return name, fields, result

    async def get_job(self, job_id: str, queue: str | None = None) -> Job:
        name, fields, result = await self.job_record(job_id, queue)
        return Job.from_fields(job_id, name, fields, result)

    async def events(
        self, queue: str, *, after: str = "0", count: int = 100, block: float | None = None
    ) -> list[tuple[str, dict[str, str]]]:
        """State changes from the queue's event stream after the entry id `after` ('0':
        from the oldest kept, '$': only new ones), oldest first: (entry id, {job,
        status}), one per job. Up to `count` stream entries are read; an entry of a
        batch (its `job` field lists ids separated by spaces) gives one item per id,
        all with its entry id, so `after` = the last item's id resumes after the
        whole entry. With `block` (seconds), waits up to that long for one to arrive
        (XREAD BLOCK)."""
        key = self.keys.queue(queue).events
        wait = None if block is None else max(1, int(block * 1000))
        reply: Any = await self.redis.xread({key: after}, count=count, block=wait)
        if not reply:
            return []
        entries = reply[0][1] if isinstance(reply, list) else next(iter(reply.values()))[0]
        return [item for entry_id, fields in entries for item in _per_job(entry_id, fields)]

    async def get_jobs(self, queue: str, ids: Sequence[str]) -> list[Job]:
        """The records of `ids` that exist, in order. Only a succeeded job has a
        result (complete.lua writes it), so results are read in a second round
        trip for those alone: a page of dead jobs costs one command per job."""
        q = self.keys.queue(queue)
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hgetall(q.job(job_id))
            records: list[dict[str, str]] = await pipe.execute()
        found = [(job_id, fields) for job_id, fields in zip(ids, records, strict=True) if fields]
        with_result = [job_id for job_id, fields in found
                       if fields.get(Field.STATUS) == JobStatus.SUCCEEDED]  # fmt: skip
        results: dict[str, str | None] = {}
        if with_result:
            async with self.redis.pipeline(transaction=False) as pipe:
                for job_id in with_result:
                    pipe.get(q.result(job_id))
                results = dict(zip(with_result, await pipe.execute(), strict=True))
        return [Job.from_fields(job_id, queue, fields, results.get(job_id))
                for job_id, fields in found]  # fmt: skip

    async def running(
        self, queues: Sequence[str], per_queue: int = RUNNING_READ
    ) -> list[RunningJob]:
        """Up to `per_queue` leased jobs of each queue (two pipelined round trips,
        however many jobs run). The active set is ordered by lease expiry, so with
        more running than that, the ones read are those renewed least recently."""
        if not queues or per_queue <= 0:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for queue in queues:
                pipe.zrange(self.keys.queue(queue).active, 0, per_queue - 1)
            listed = await pipe.execute()
        found = [(q, str(i)) for q, ids in zip(queues, listed, strict=True) for i in ids]
        if not found:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for queue, job_id in found:
                pipe.hmget(self.keys.queue(queue).job(job_id), [Field.TASK, Field.STARTED])
            fields = await pipe.execute()
        running = []
        for (queue, job_id), (task, started) in zip(found, fields, strict=True):
            if task is None:
                continue
            with contextlib.suppress(TypeError, ValueError):
                running.append(RunningJob(queue, job_id, str(task), int(float(started))))
        return running

    async def list_jobs(
        self, *, status: JobStatus | None = None, queue: str | None = None, limit: int = 50
    ) -> list[Job]:
        """Newest first within each index; filtered by status."""
        names = [queue] if queue else await self.queues()
        found: list[Job] = []
        for name in names:
            for index in _indexes_for(status):
                key = _index_key(self.keys.queue(name), index)
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
                for key in (q.ready, q.scheduled, q.active, q.dead, q.blocked):
                    pipe.zcard(key)
                for status in FINISHED_STATES:
                    pipe.zcard(q.finished(status.value))
                pipe.hgetall(q.stats)
                pipe.hgetall(q.paused)
            replies = await pipe.execute()
        out = []
        width = 7 + len(FINISHED_STATES)
        for i, name in enumerate(names):
            row = replies[i * width : (i + 1) * width]
            stats = {k: int(v) for k, v in row[-2].items()}
            waiting, scheduled, running, dead, blocked = (int(n) for n in row[:5])
            finished = sum(int(n) for n in row[5:-2])
            pause = pause_of(name, row[-1]) if row[-1] else None
            out.append(
                QueueCounts(
                    name, waiting, scheduled, running, dead, finished, stats, blocked, pause
                )
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


_FINISHED = tuple(f"finished:{status.value}" for status in FINISHED_STATES)
_INDEXES: dict[JobStatus | None, tuple[str, ...]] = {
    None: ("ready", "scheduled", "blocked", "active", "dead", *_FINISHED),
    JobStatus.BLOCKED: ("blocked",),
    JobStatus.QUEUED: ("ready",),
    JobStatus.SCHEDULED: ("scheduled",),
    JobStatus.RETRYING: ("scheduled",),
    JobStatus.RUNNING: ("active",),
    JobStatus.DEAD: ("dead",),
}


def _indexes_for(status: JobStatus | None) -> tuple[str, ...]:
    """The index ZSETs that hold jobs of `status` (each finished state has its own)."""
    found = _INDEXES.get(status)
    if found is None:
        assert status is not None  # None is in _INDEXES
        return (f"finished:{status.value}",)
    return found


def _index_key(q: QueueKeys, index: str) -> str:
    kind, _, status = index.partition(":")
    return q.finished(status) if kind == "finished" else cast(str, getattr(q, index))


def _per_job(entry_id: Any, fields: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    """One event stream entry as one (entry id, fields) per job it names."""
    ids = str(fields.get("job", "")).split(" ")
    if len(ids) == 1:
        return [(str(entry_id), dict(fields))]
    return [(str(entry_id), {**fields, "job": job_id}) for job_id in ids]
