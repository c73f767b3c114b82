"""A worker process SIGKILLed mid-run leaves a 'worker lost' attempt in the job's
timeline, naming that worker; the next attempt follows it."""

from __future__ import annotations

import signal

from chronoq import Client, JobStatus
from chronoq.client import JobRequest
from chronoq.observe.jobs import job_history
from tests.fault.helpers import WorkerProcess, workers
from tests.worker.helpers import wait_until

NAP = "tests.sample_app.nap"


async def test_a_sigkilled_worker_leaves_a_worker_lost_attempt(
    client: Client, redis_url: str, prefix: str
) -> None:
    made = await client.submit(JobRequest(NAP, (1.0,), force=True))

    async def status_is(status: JobStatus) -> bool:
        return (await client.job(made.id)).status is status

    with workers() as started:
        first = WorkerProcess(redis_url, prefix, "--lease", "1")
        started.append(first)
        await wait_until(lambda: status_is(JobStatus.RUNNING), timeout=15, interval=0.02)
        killed = (await client.job(made.id)).worker_id
        first.signal(signal.SIGKILL)
        first.wait(5)
        started.append(WorkerProcess(redis_url, prefix, "--lease", "1"))
        await wait_until(lambda: status_is(JobStatus.SUCCEEDED), timeout=30, interval=0.05)
    found = await job_history(client.inspector, made.id)
    assert [(e.number, e.outcome) for e in found.timeline] == [(1, "worker lost"), (2, "succeeded")]
    lost, succeeded = found.timeline
    assert lost.worker == killed and lost.counted
    assert lost.error_class == "WorkerLost" and (lost.error or "").startswith("worker lost")
    assert succeeded.worker != killed and succeeded.peak_memory
