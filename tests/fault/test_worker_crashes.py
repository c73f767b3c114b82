"""Killed workers lose no job: real processes, real signals, a real Redis."""

from __future__ import annotations

import asyncio
import signal

from chronoq import Client, JobStatus
from chronoq.client import JobRequest
from tests.fault.helpers import WorkerProcess, workers
from tests.sample_app import app as sample_app
from tests.sample_app import kill_my_worker
from tests.worker.helpers import wait_until

NAP = "tests.sample_app.nap"


async def statuses(client: Client, ids: list[str]) -> dict[str, JobStatus]:
    return {job_id: (await client.job(job_id)).status for job_id in ids}


async def wait_for_status(client: Client, job_id: str, status: JobStatus, timeout: float) -> None:
    async def reached() -> bool:
        return (await client.job(job_id)).status is status

    await wait_until(reached, timeout=timeout, interval=0.02)


async def test_sigkill_with_jobs_in_flight_then_another_worker_finishes_them(
    client: Client, redis_url: str, prefix: str
) -> None:
    made = await client.enqueue_many([JobRequest(NAP, (0.3,), force=True) for _ in range(40)])
    ids = [job.id for job in made]
    with workers() as started:
        first = WorkerProcess(redis_url, prefix, "--concurrency", "8", "--lease", "1")
        started.append(first)

        async def eight_running() -> bool:
            return list((await statuses(client, ids)).values()).count(JobStatus.RUNNING) >= 8

        await wait_until(eight_running, timeout=15, interval=0.02)
        first.signal(signal.SIGKILL)
        first.wait(5)
        in_flight = [i for i, s in (await statuses(client, ids)).items() if s is JobStatus.RUNNING]
        assert len(in_flight) >= 8

        started.append(WorkerProcess(redis_url, prefix, "--concurrency", "8", "--lease", "1"))

        async def all_done() -> bool:
            return set((await statuses(client, ids)).values()) == {JobStatus.SUCCEEDED}

        await wait_until(all_done, timeout=30, interval=0.05)
    for job_id in in_flight:
        job = await client.job(job_id)
        assert job.attempts == 2 and (job.error or "").startswith("worker lost"), job


async def test_a_job_that_kills_its_worker_every_time_ends_dead(
    redis_url: str, prefix: str
) -> None:
    sample_app.settings = sample_app.settings.model_copy(
        update={"redis_url": redis_url, "prefix": prefix}
    )
    client = sample_app.client()  # knows the task, so the job stores its max_retries=2
    made = await client.enqueue(kill_my_worker)
    with workers() as started:

        async def dead_yet() -> bool:
            if not started or not started[-1].alive():
                started.append(WorkerProcess(redis_url, prefix, "--lease", "1"))
            return (await client.job(made.id)).status is JobStatus.DEAD

        await wait_until(dead_yet, timeout=40, interval=0.05)
        survivor = started[-1]
        await asyncio.sleep(0.3)
        assert survivor.alive(), "a worker must not die once the job is dead"
    job = await client.job(made.id)
    assert job.attempts == 3  # the first run and two retries, each one killed its worker
    assert (job.error or "").startswith("worker lost")
    assert len(started) >= 4
    assert (await client.queues())[0].stats["lost"] == 3
    await client.close()


async def test_sigterm_hands_a_long_job_back_and_it_runs_later(
    client: Client, redis_url: str, prefix: str
) -> None:
    made = await client.submit(JobRequest(NAP, (2.0,), force=True))
    with workers() as started:
        first = WorkerProcess(redis_url, prefix, "--shutdown-timeout", "0.3")
        started.append(first)
        await wait_for_status(client, made.id, JobStatus.RUNNING, timeout=15)
        first.signal(signal.SIGTERM)
        assert first.wait(10) == 0, first.output()
        handed_back = await client.job(made.id)
        assert handed_back.status is JobStatus.QUEUED
        assert handed_back.attempts == 0  # a hand-back is not a failed attempt
        assert handed_back.error is None

        started.append(WorkerProcess(redis_url, prefix))
        await wait_for_status(client, made.id, JobStatus.SUCCEEDED, timeout=15)
    assert (await client.job(made.id)).attempts == 1


async def test_sigterm_lets_a_short_job_finish(client: Client, redis_url: str, prefix: str) -> None:
    made = await client.submit(JobRequest("tests.sample_app.blocking_nap", (0.8,), force=True))
    with workers() as started:
        worker = WorkerProcess(redis_url, prefix, "--shutdown-timeout", "10")
        started.append(worker)
        await wait_for_status(client, made.id, JobStatus.RUNNING, timeout=15)
        worker.signal(signal.SIGTERM)
        assert worker.wait(10) == 0, worker.output()
    job = await client.job(made.id)
    assert job.status is JobStatus.SUCCEEDED and job.result == 0.8


async def test_a_second_signal_stops_at_once_and_hands_back(
    client: Client, redis_url: str, prefix: str
) -> None:
    made = await client.submit(JobRequest(NAP, (60.0,), force=True))
    with workers() as started:
        worker = WorkerProcess(redis_url, prefix, "--shutdown-timeout", "120")
        started.append(worker)
        await wait_for_status(client, made.id, JobStatus.RUNNING, timeout=15)
        worker.signal(signal.SIGINT)
        await asyncio.sleep(0.5)
        assert worker.alive(), "the first signal waits for the running job"
        worker.signal(signal.SIGINT)
        assert worker.wait(5) == 0, worker.output()
    job = await client.job(made.id)
    assert job.status is JobStatus.QUEUED and job.attempts == 0


async def test_workers_list_shows_a_live_worker_and_drops_it_after_exit(
    client: Client, redis_url: str, prefix: str
) -> None:
    with workers() as started:
        worker = WorkerProcess(redis_url, prefix, "--queues", "a,b", "--concurrency", "5")
        started.append(worker)

        async def listed() -> bool:
            return len(await client.workers()) == 1

        await wait_until(listed, timeout=15)
        (info,) = await client.workers()
        assert info["pid"] == str(worker.pid) and info["queues"] == "a,b"
        assert info["concurrency"] == "5"
        worker.signal(signal.SIGTERM)
        assert worker.wait(10) == 0
    assert await client.workers() == []  # a clean exit unregisters at once


async def test_a_job_handed_to_a_worker_killed_while_idle_still_runs(
    client: Client, redis_url: str, prefix: str
) -> None:
    with workers() as started:
        survivor = WorkerProcess(redis_url, prefix, "--lease", "1")
        victim = WorkerProcess(redis_url, prefix, "--lease", "1")
        started += [survivor, victim]

        async def both_listed() -> bool:
            return len(await client.workers()) == 2

        await wait_until(both_listed, timeout=15)
        await asyncio.sleep(1.2)  # both idle, both registered for direct hand-off
        victim.signal(signal.SIGKILL)
        victim.wait(5)
        made = [await client.submit(JobRequest(NAP, (0.01,), force=True)) for _ in range(5)]
        for job in made:  # some may go to the dead worker: its lease expires, then they run
            await wait_for_status(client, job.id, JobStatus.SUCCEEDED, timeout=15)
        assert survivor.alive()
