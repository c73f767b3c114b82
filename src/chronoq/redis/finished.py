"""Operator actions on one finished job: run it again, or delete it for good.

Retry keeps the job's id and history (one timeline per job, as a dead job's
requeue does): the job page an operator has open stays the job's page, and its
indexes never name a job twice. Each is one script in the queue's slot, checked
before it writes (retry_finished.lua, delete_finished.lua); a job still waiting or
running is refused with its status (cancel it first), never changed.
"""

from __future__ import annotations

from typing import Any

from chronoq.core.errors import InvalidJobState, JobNotFound
from chronoq.core.job import JobStatus
from chronoq.redis.connector import AsyncRedis
from chronoq.redis.keys import Keyspace
from chronoq.redis.scripts import SCRIPTS


class FinishedJobs:
    def __init__(self, redis: AsyncRedis, keyspace: Keyspace, *, events_cap: int) -> None:
        self.redis = redis
        self.keys = keyspace
        self.events_cap = events_cap

    async def retry(self, queue: str, job_id: str) -> JobStatus:
        """Queue finished job `job_id` again as its next attempt. Returns the status
        it had (succeeded, cancelled, expired, skipped or dead)."""
        q = self.keys.queue(queue)
        keys = [q.dead, q.ready, q.seq, q.wake, q.job_prefix, q.fair, q.index_prefix, q.events,
                q.done, q.result_prefix]  # fmt: skip
        reply = await SCRIPTS.retry_finished(self.redis, keys, [job_id, self.events_cap])
        return _outcome(job_id, reply, "retried")

    async def delete(self, queue: str, job_id: str) -> JobStatus:
        """Delete finished job `job_id` (record, result, index entries). Returns the
        status it had."""
        q = self.keys.queue(queue)
        keys = [q.dead, q.done, q.job_prefix, q.result_prefix, q.index_prefix]
        return _outcome(
            job_id, await SCRIPTS.delete_finished(self.redis, keys, [job_id]), "deleted"
        )


def _outcome(job_id: str, reply: Any, verb: str) -> JobStatus:
    if not reply:
        raise JobNotFound(f"no job with id {job_id!r}")
    kind, detail = (v.decode() if isinstance(v, bytes) else str(v) for v in reply)
    if kind == "refused":
        hint = "it has not finished" if verb == "retried" else "cancel it first"
        raise InvalidJobState(f"job {job_id} is {detail}: only a finished job can be {verb} "
                              f"({hint})")  # fmt: skip
    if kind == "invalid":
        raise InvalidJobState(f"job {job_id} cannot be {verb}: {detail}")
    return JobStatus(detail)
