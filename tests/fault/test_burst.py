"""`--burst` exits after its last job, every time.

It used to hang now and then: the scheduler loop's change watcher, cancelled while
it subscribed, lost the cancellation inside redis-py (a Python 3.11 `wait_for`
race) and read pub/sub forever; shutdown waited for it. The app declares a
schedule firing every second, so that the watcher is busy as the worker stops.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid

import pytest

from chronoq import App, JobStatus
from chronoq.client import JobRequest
from tests.fault.helpers import ONE_AT_A_TIME, ROOT

RUNS = 20
JOBS = 3


async def enqueue(app: App) -> list[str]:
    async with app.client() as client:
        made = await client.enqueue_many(
            [JobRequest("tests.sched_app.tick", force=True) for _ in range(JOBS)]
        )
        return [job.id for job in made]


async def statuses(app: App, ids: list[str]) -> set[JobStatus]:
    async with app.client() as client:
        return {(await client.job(job_id)).status for job_id in ids}


# Twenty process starts in a row, each bounded (20 s) on its own: a start takes ~1.5 s
# alone and ~3 s on a loaded box (xdist workers beside it), past the default 60 s.
@ONE_AT_A_TIME
@pytest.mark.timeout(RUNS * 8)
def test_a_burst_worker_exits_after_its_last_job_every_time(redis_url: str, prefix: str) -> None:
    for run in range(RUNS):
        run_prefix = f"{prefix}-{uuid.uuid4().hex[:6]}"
        app = App("burst", redis_url=redis_url, prefix=run_prefix)
        ids = asyncio.run(enqueue(app))
        command = [sys.executable, "-m", "chronoq", "worker", "tests.sched_app:app", "--burst"]
        command += ["--redis-url", redis_url, "--prefix", run_prefix]
        started = time.monotonic()
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        try:
            _, err = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
            raise AssertionError(f"run {run}: the burst worker hung at shutdown\n{err}") from None
        assert process.returncode == 0, (run, err)
        assert asyncio.run(statuses(app, ids)) == {JobStatus.SUCCEEDED}, run
        assert time.monotonic() - started < 20


def test_a_sync_task_past_its_timeout_does_not_hold_the_exit(redis_url: str, prefix: str) -> None:
    """A thread cannot be cancelled: the job fails on its timeout, the thread sleeps
    on, and the process used to wait for it at exit."""
    app = App("stray", redis_url=redis_url, prefix=prefix)

    async def enqueue_sleeper() -> str:
        async with app.client() as client:
            request = JobRequest(
                "tests.sample_app.blocking_nap", (60,), timeout=0.5, max_retries=0, force=True
            )
            return (await client.submit(request)).id

    job_id = asyncio.run(enqueue_sleeper())
    command = [sys.executable, "-m", "chronoq", "worker", "tests.sample_app:app", "--burst"]
    command += ["--redis-url", redis_url, "--prefix", prefix]
    process = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=20, check=False
    )
    assert process.returncode == 0, process.stderr
    assert "1 task thread(s) still running; exiting without them" in process.stderr
    assert asyncio.run(statuses(app, [job_id])) == {JobStatus.DEAD}
