"""Scheduling a post now and waiting for its job to end, for the posting tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chronoq import Client, Job, JobStatus
from chronoq.connectors.posting import Poster
from tests.connectors.posting.post_app import ACCOUNT
from tests.worker.helpers import wait_until

ENDED = (JobStatus.SUCCEEDED, JobStatus.DEAD)


async def schedule_now(poster: Poster, post_id: str, video: str, **options: Any) -> str:
    options.setdefault("account", ACCOUNT)
    job = await poster.schedule_post(
        post_id, at=datetime.now(UTC), video=video, title=f"post {post_id}", **options
    )
    return job.id


async def ended(client: Client, job_id: str, timeout: float = 30.0) -> Job:
    async def done() -> bool:
        return (await client.job(job_id)).status in ENDED

    await wait_until(done, timeout=timeout, interval=0.05)
    return await client.job(job_id)
