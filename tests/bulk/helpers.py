"""Dead jobs made fast (enqueued, claimed and failed straight through the broker),
and what a test checks after a bulk operation."""

from __future__ import annotations

import asyncio
import json

import redis

from chronoq.client import Client, JobRequest
from chronoq.redis.keys import QueueKeys

DAY_MS = 86_400_000
CHUNK = 1000
CONCURRENT = 20


async def make_dead(
    client: Client, n: int, *, task: str = "t", queue: str = "default", error: str = "E"
) -> list[str]:
    """`n` jobs of `task` in `queue`, each dead after one attempt; their ids."""
    ids: list[str] = []
    broker = client.broker
    for start in range(0, n, CHUNK):
        size = min(CHUNK, n - start)
        made = await client.enqueue_many(
            JobRequest(task, [start + i], queue=queue, max_retries=0, force=True)
            for i in range(size)
        )
        claim = await broker.claim(
            queue, size, lease_ms=60_000, token="tok", worker_id="w", retention_ms=DAY_MS,
            register_idle=False,
        )  # fmt: skip
        assert len(claim.jobs) == size
        for at in range(0, size, CONCURRENT):  # within the client's connection pool
            await asyncio.gather(
                *(
                    broker.fail(queue, job.id, "tok", error=error, traceback="", retry_in_ms=None)
                    for job in claim.jobs[at : at + CONCURRENT]
                )
            )
        ids += [job.id for job in made]
    return ids


def history_marks(raw: redis.Redis, q: QueueKeys, job_id: str) -> list[str]:
    """The outcomes in a job's attempt history ('dead', 'requeued', ...)."""
    text = raw.hget(q.job(job_id), "hist")
    return [entry["o"] for entry in json.loads(str(text))] if text else []
