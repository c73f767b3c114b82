"""A worker retires by itself after `max_jobs` or over `max_memory`, handing back the rest."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from chronoq import App, Client, JobStatus
from chronoq.core.errors import ConfigurationError
from chronoq.worker import Worker, WorkerOptions
from chronoq.worker.recycling import _peak_resident_memory, resident_memory

MIB = 2**20


def vm_rss() -> int:
    """The kernel's own figure, from /proc/self/status (kB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS line")


def test_the_rss_is_the_current_resident_memory() -> None:
    before = resident_memory()
    assert before is not None and abs(before - vm_rss()) < 8 * MIB
    hoard = b"\x01" * (64 * MIB)  # touched: resident
    grown = resident_memory()
    assert grown is not None and grown - before >= 60 * MIB
    del hoard  # a large block goes back to the system: the RSS falls again (not a peak)
    after = resident_memory()
    assert after is not None and grown - after >= 60 * MIB


def test_the_fallback_is_the_peak_which_is_at_least_the_current() -> None:
    peak = _peak_resident_memory()
    current = resident_memory()
    assert peak is not None and current is not None and peak >= current - MIB


def test_limits_below_one_are_refused(app: App) -> None:
    with pytest.raises(ConfigurationError, match="max_jobs must be at least 1"):
        Worker(app, WorkerOptions(max_jobs=0))
    with pytest.raises(ConfigurationError, match="max_memory must be at least 1 byte"):
        Worker(app, WorkerOptions(max_memory=0))


async def test_a_worker_stops_by_itself_after_max_jobs_and_hands_back_the_rest(
    app: App, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    @app.task
    async def nap(seconds: float) -> float:
        await asyncio.sleep(seconds)
        return seconds

    made = [await client.enqueue(nap, 0.05) for _ in range(3)]
    slow = await client.enqueue(nap, 30.0)
    made += [await client.enqueue(nap, 0.05) for _ in range(10)]
    worker = Worker(app, WorkerOptions(concurrency=2, max_jobs=3, shutdown_timeout=0.2))
    with caplog.at_level(logging.INFO, "chronoq.worker"):
        await asyncio.wait_for(worker.run(), 15)  # no signal: it stops by itself
    assert worker.recycling.reason == "recycling after 3 jobs"
    assert f"chronoq worker {worker.id} recycling after 3 jobs" in caplog.messages
    jobs = [await client.job(job.id) for job in [*made, slow]]
    done = [job for job in jobs if job.status is JobStatus.SUCCEEDED]
    rest = [job for job in jobs if job.status is not JobStatus.SUCCEEDED]
    assert len(done) == worker.jobs_done >= 3
    assert all(job.attempts == 1 and job.worker_id == worker.id for job in done)
    assert {job.status for job in rest} == {JobStatus.QUEUED}  # handed back, slow one too
    assert all(job.attempts == 0 and job.error is None for job in rest)
    (counts,) = await client.queues()
    assert counts.waiting == len(rest) and counts.running == 0
    assert not {"retried", "lost", "dead"} & set(counts.stats)


async def test_a_worker_over_its_memory_limit_at_start_is_warned_and_runs_one_job(
    app: App, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    @app.task
    async def add(a: int, b: int) -> int:
        return a + b

    made = [await client.enqueue(add, i, 1) for i in range(5)]
    worker = Worker(app, WorkerOptions(concurrency=1, max_memory=1))
    with caplog.at_level(logging.INFO, "chronoq.worker"):
        await asyncio.wait_for(worker.run(), 15)
    assert any("the limit is too low" in m for m in caplog.messages), caplog.messages
    reason = worker.recycling.reason or ""
    assert reason.startswith("recycling: RSS ") and reason.endswith(" MB >= limit 0.0 MB")
    statuses = [(await client.job(job.id)).status for job in made]
    assert JobStatus.SUCCEEDED in statuses  # it did some work before retiring
    assert set(statuses) <= {JobStatus.SUCCEEDED, JobStatus.QUEUED}
