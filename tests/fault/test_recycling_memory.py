"""`chronoq up --max-memory-per-process`: a process whose RSS reaches the limit is
replaced, checked after each job and at each heartbeat (a job that grows as it runs).

The limit sits a fixed amount above the RSS a fresh worker process of the sample app
reports (measured first), and `hog` allocates and keeps memory in a module-level list.
"""

from __future__ import annotations

import re
import signal

from chronoq import Client, JobStatus
from chronoq.client import JobRequest
from tests.fault.helpers import WorkerProcess, workers
from tests.fault.test_recycling import assert_no_failures, pid_of, up, wait_all_succeeded
from tests.fault.test_worker_crashes import wait_for_status

HOG = "tests.sample_app.hog"
MIB = 2**20


async def baseline_rss(client: Client, redis_url: str, prefix: str) -> int:
    """The RSS of a worker process of the sample app that ran one job."""
    probe = await client.submit(JobRequest("tests.sample_app.rss", force=True))
    with workers() as started:
        worker = WorkerProcess(redis_url, prefix, "--burst")
        started.append(worker)
        assert worker.wait(20) == 0, worker.output()
    rss = (await client.job(probe.id)).result
    assert isinstance(rss, int) and rss > 10 * MIB, rss
    return rss


async def test_a_process_reaching_its_memory_limit_is_replaced_and_loses_no_job(
    client: Client, redis_url: str, prefix: str
) -> None:
    limit_mb = await baseline_rss(client, redis_url, prefix) // MIB + 125
    made = await client.enqueue_many([JobRequest(HOG, (50,), force=True) for _ in range(8)])
    with workers() as started:
        pool = up(redis_url, prefix, "-c", "1", "--max-memory-per-process", f"{limit_mb}MB")
        started.append(pool)
        jobs = await wait_all_succeeded(client, [job.id for job in made], timeout=30)
        assert all(job.attempts == 1 for job in jobs)
        await assert_no_failures(client, succeeded=9)  # and the probe
        output = pool.output()
        recycled = re.findall(r"recycling: RSS (\d+) MB >= limit (\d+) MB", output)
        assert recycled and all(int(rss) >= int(limit) == limit_mb for rss, limit in recycled)
        # 50 MB a job, 125 MB allowed: the first process stays under the limit for two
        # jobs and crosses it with the third (jobs it had already taken still run).
        pids = [pid_of(job) for job in jobs]
        assert len(set(pids)) >= 2 and pids.count(pids[0]) >= 3, pids
        pool.signal(signal.SIGTERM)
        assert pool.wait(15) == 0, output


async def test_a_job_growing_past_the_limit_is_seen_by_the_heartbeat_and_finishes(
    client: Client, redis_url: str, prefix: str
) -> None:
    limit_mb = await baseline_rss(client, redis_url, prefix) // MIB + 100
    with workers() as started:
        pool = up(redis_url, prefix, "--max-memory-per-process", f"{limit_mb}MiB")
        started.append(pool)
        grower = await client.submit(JobRequest(HOG, (150, 3.0), force=True))
        await wait_for_status(client, grower.id, JobStatus.RUNNING, timeout=15)
        await wait_for_status(client, grower.id, JobStatus.SUCCEEDED, timeout=15)
        output = pool.output()
        recycling = output.index("recycling: RSS")  # while it ran: no job was recorded yet
        assert recycling < output.index(f"job {grower.id} {HOG} succeeded"), output
        job = await client.job(grower.id)
        assert job.attempts == 1 and isinstance(job.result, int)
        assert job.result >= limit_mb * MIB
        await assert_no_failures(client, succeeded=2)
        pool.signal(signal.SIGTERM)
        assert pool.wait(15) == 0, output
