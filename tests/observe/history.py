"""Making job history through the real scripts, fast: claims in batches, outcomes
written as the worker writes them (complete in batches, fail one by one)."""

from __future__ import annotations

from chronoq import Client
from chronoq.client import JobRequest
from chronoq.core.failures import ErrorClassifier, failure

HOUR_MS = 3_600_000
CLASSIFIER = ErrorClassifier()


async def run_jobs(
    client: Client,
    task: str,
    count: int,
    *,
    queue: str = "default",
    account: str | None = None,
    error: BaseException | None = None,
    retention_ms: int = HOUR_MS,
) -> list[str]:
    """Enqueue `count` jobs and end each: succeeded, or dead with `error`."""
    made = await client.enqueue_many(
        JobRequest(task, [i], queue=queue, account=account, max_retries=0, force=True)
        for i in range(count)
    )
    broker, ids = client.broker, [m.id for m in made]
    done = 0
    while done < count:
        claim = await broker.claim(
            queue,
            1000,
            lease_ms=60_000,
            token="tok",
            worker_id="w",
            retention_ms=HOUR_MS,
            register_idle=False,
        )
        assert claim.jobs, "nothing left to claim"
        if error is None:
            outcomes = [(job.id, job.token, "") for job in claim.jobs]
            await broker.complete(queue, outcomes, retention_ms=retention_ms, result_ttl_ms=0)
        else:
            text = f"{type(error).__name__}: {error}"
            wire = failure(task, type(error), text, CLASSIFIER).wire
            for job in claim.jobs:
                await broker.fail(
                    queue, job.id, job.token, error=text, traceback="", retry_in_ms=None,
                    failure=wire,
                )  # fmt: skip
        done += len(claim.jobs)
    return ids
