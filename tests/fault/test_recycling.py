"""`chronoq up` recycles worker processes after M jobs: real processes, a real Redis.

Each process stops taking jobs once it has recorded M, lets its running jobs finish
(or hands them back), exits 0, and `up` starts a fresh one; no job is lost, none
runs twice, none counts as a failure.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal

from chronoq import Client, Job, JobStatus
from chronoq.client import JobRequest
from tests.fault.helpers import WorkerProcess, workers
from tests.fault.test_worker_crashes import wait_for_status
from tests.worker.helpers import wait_until

ADD = "tests.sample_app.add"
NAP = "tests.sample_app.nap"


def pid_of(job: Job) -> int:
    """The pid in the worker id recorded on the job (host.pid.suffix)."""
    assert job.worker_id is not None, job
    return int(job.worker_id.rsplit(".", 2)[1])


async def wait_all_succeeded(client: Client, ids: list[str], timeout: float) -> list[Job]:
    async def done() -> bool:
        jobs = [await client.job(job_id) for job_id in ids]
        return all(job.status is JobStatus.SUCCEEDED for job in jobs)

    await wait_until(done, timeout=timeout, interval=0.05)
    return [await client.job(job_id) for job_id in ids]


async def assert_no_failures(client: Client, succeeded: int) -> None:
    (counts,) = await client.queues()
    assert counts.stats.get("succeeded") == succeeded, counts
    assert not {"retried", "lost", "dead", "missing"} & set(counts.stats), counts
    assert counts.waiting == counts.running == counts.dead == 0, counts


def up(
    redis_url: str, prefix: str, *options: str, env: dict[str, str] | None = None
) -> WorkerProcess:
    return WorkerProcess(redis_url, prefix, *options, command="up", env=env)


async def test_up_replaces_each_process_after_its_jobs_and_loses_none(
    client: Client, redis_url: str, prefix: str
) -> None:
    made = await client.enqueue_many([JobRequest(ADD, (i, 1), force=True) for i in range(30)])
    with workers() as started:
        pool = up(redis_url, prefix, "-p", "2", "-c", "1", "--max-jobs-per-process", "5")
        started.append(pool)
        jobs = await wait_all_succeeded(client, [job.id for job in made], timeout=30)
        assert [job.result for job in jobs] == [i + 1 for i in range(30)]
        assert all(job.attempts == 1 for job in jobs)  # each ran once, none failed
        pids = {pid_of(job) for job in jobs}
        assert len({job.worker_id for job in jobs}) == len(pids) > 2, pids
        await assert_no_failures(client, succeeded=30)
        output = pool.output()
        assert output.count("recycling after 5 jobs") >= len(pids) - 2, output
        restarts = re.findall(r"worker process (\d+) recycled; started (\d+)", output)
        assert pids <= {int(pid) for pair in restarts for pid in pair} | set(pool.children())

        assert pool.alive()  # and still serving, two processes
        late = await client.submit(JobRequest(ADD, (2, 3), force=True))
        await wait_for_status(client, late.id, JobStatus.SUCCEEDED, timeout=15)
        assert len(pool.children()) == 2
        pool.signal(signal.SIGTERM)
        assert pool.wait(15) == 0, pool.output()
    assert await client.workers() == []  # every child stopped and unregistered


async def test_a_long_job_running_at_the_limit_finishes_in_the_retiring_process(
    client: Client, redis_url: str, prefix: str
) -> None:
    with workers() as started:
        pool = up(redis_url, prefix, "-c", "2", "--max-jobs-per-process", "1")
        started.append(pool)
        long = await client.submit(JobRequest(NAP, (1.5,), force=True))
        await wait_for_status(client, long.id, JobStatus.RUNNING, timeout=15)
        quick = await client.submit(JobRequest(ADD, (1, 1), force=True))
        await wait_for_status(client, quick.id, JobStatus.SUCCEEDED, timeout=15)
        await wait_for_status(client, long.id, JobStatus.SUCCEEDED, timeout=15)
        long_job, quick_job = await client.job(long.id), await client.job(quick.id)
        assert long_job.attempts == quick_job.attempts == 1
        assert long_job.worker_id == quick_job.worker_id  # it did not move
        await assert_no_failures(client, succeeded=2)

        async def replaced() -> bool:
            return "recycled; started" in pool.output()

        await wait_until(replaced, timeout=10)
        pool.signal(signal.SIGTERM)
        assert pool.wait(15) == 0, pool.output()


async def test_a_long_job_past_the_shutdown_timeout_is_handed_back_and_runs_once_more(
    client: Client, redis_url: str, prefix: str
) -> None:
    env = {"CHRONOQ_SHUTDOWN_TIMEOUT": "0.3"}
    with workers() as started:
        pool = up(redis_url, prefix, "-c", "2", "--max-jobs-per-process", "1", env=env)
        started.append(pool)
        long = await client.submit(JobRequest(NAP, (1.5,), force=True))
        await wait_for_status(client, long.id, JobStatus.RUNNING, timeout=15)
        quick = await client.submit(JobRequest(ADD, (1, 1), force=True))
        await wait_for_status(client, quick.id, JobStatus.SUCCEEDED, timeout=15)
        await wait_for_status(client, long.id, JobStatus.SUCCEEDED, timeout=15)
        long_job, quick_job = await client.job(long.id), await client.job(quick.id)
        assert long_job.attempts == 1 and long_job.error is None  # the hand-back is no attempt
        assert long_job.worker_id != quick_job.worker_id  # finished by the fresh process
        assert "handed 1 unfinished job(s) back" in pool.output()
        await assert_no_failures(client, succeeded=2)
        pool.signal(signal.SIGTERM)
        assert pool.wait(15) == 0, pool.output()


async def test_a_worker_process_at_max_jobs_exits_0_with_its_reason(
    client: Client, redis_url: str, prefix: str
) -> None:
    made = await client.enqueue_many([JobRequest(ADD, (i, 1), force=True) for i in range(20)])
    with workers() as started:
        worker = WorkerProcess(redis_url, prefix, "--concurrency", "1", "--max-jobs", "3")
        started.append(worker)
        assert worker.wait(15) == 0, worker.output()  # by itself: no signal
        output = worker.output()
    assert re.search(r"chronoq worker \S+ recycling after 3 jobs\n", output), output
    assert re.search(r"exits to be replaced \(recycling after 3 jobs\)\n", output), output
    jobs = [await client.job(job.id) for job in made]
    done = [job for job in jobs if job.status is JobStatus.SUCCEEDED]
    assert 3 <= len(done) < 20 and all(job.attempts == 1 for job in done)
    rest = [job for job in jobs if job.status is not JobStatus.SUCCEEDED]
    assert {job.status for job in rest} == {JobStatus.QUEUED}
    assert all(job.attempts == 0 for job in rest)


async def test_a_worker_process_that_dies_stops_up_with_status_1(
    client: Client, redis_url: str, prefix: str
) -> None:
    with workers() as started:
        pool = up(redis_url, prefix, "-p", "2", "--max-jobs-per-process", "5")
        started.append(pool)

        async def two_serving() -> bool:
            return len(await client.workers()) == 2

        await wait_until(two_serving, timeout=15)
        victim, other = pool.children()
        os.kill(victim, signal.SIGKILL)  # not a recycle: a crash is not replaced
        assert pool.wait(15) == 1, pool.output()
        output = pool.output()
    assert f"chronoq: error: worker process {victim} exited with status -9" in output
    assert "recycled; started" not in output
    with contextlib.suppress(ProcessLookupError):  # stopped with it, not orphaned
        os.kill(other, 0)
        raise AssertionError(f"worker process {other} outlived up")
