"""`chronoq job ID` shows the job's whole timeline (text and --json); `chronoq cleanup
--days N` trims by hand and reports what it trimmed."""

from __future__ import annotations

import asyncio

from chronoq import App, JobStatus
from chronoq.client import JobRequest
from tests.cli.helpers import Cli
from tests.worker.helpers import running_worker, wait_until


def a_job_that_died(redis_url: str, prefix: str) -> str:
    """A job that failed once, was retried, and died on its second attempt."""
    app = App("history-cli", redis_url=redis_url, prefix=prefix)

    @app.task(max_retries=1, retry_delays=[0.02])
    async def broken() -> None:
        raise LookupError("no such row")

    async def go() -> str:
        async with app.client() as client:
            job = await client.enqueue(broken)

            async def dead() -> bool:
                return (await client.job(job.id)).status is JobStatus.DEAD

            async with running_worker(app):
                await wait_until(dead)
            return job.id

    return asyncio.run(go())


def test_job_shows_the_timeline(cli: Cli, redis_url: str, prefix: str) -> None:
    job_id = a_job_that_died(redis_url, prefix)
    shown = cli("job", job_id)
    assert shown.code == 0, shown.err
    assert "timeline" in shown.out
    rows = [line for line in shown.out.splitlines() if "LookupError" in line]
    assert len(rows) >= 2  # the table's error row, then one per attempt
    assert "retrying" in shown.out and "dead" in shown.out
    assert shown.out.index("retrying") < shown.out.rindex("dead")

    data = cli("job", job_id, "--json").json()
    assert data["id"] == job_id and data["status"] == "dead"
    timeline = data["timeline"]
    assert [(e["attempt"], e["outcome"]) for e in timeline] == [(1, "retrying"), (2, "dead")]
    for entry in timeline:
        assert entry["error_class"] == "LookupError"
        assert "no such row" in entry["traceback"]
        assert entry["worker"] and entry["peak_memory"] > 0 and entry["duration"] >= 0
        assert entry["started_at"] <= entry["finished_at"]
    assert timeline[0]["finished_at"] <= timeline[1]["started_at"]


def test_a_job_that_is_not_there_is_one_line(cli: Cli) -> None:
    shown = cli("job", "01a231fc57c800df94fad44905")
    assert shown.code == 2 and "no job with id" in shown.err and "Traceback" not in shown.err


def test_cleanup_trims_by_hand_and_counts(cli: Cli, redis_url: str, prefix: str) -> None:
    app = App("cleanup-cli", redis_url=redis_url, prefix=prefix)

    @app.task
    async def noop(n: int) -> int:
        return n

    async def go() -> None:
        async with app.client() as client:
            made = await client.enqueue_many(JobRequest(noop, [n]) for n in range(5))
            async with running_worker(app):
                for job in made:
                    await client.result(job.id, timeout=10)

    asyncio.run(go())
    kept = cli("cleanup", "--days", "1", "--json").json()
    assert kept["trimmed"] == 0  # nothing finished a day ago
    done = cli("cleanup", "--days", "0", "--json").json()
    assert done["trimmed"] == 5
    assert done["queues"]["default"]["removed"]["succeeded"] == 5
    assert done["queues"]["default"]["trimmed_total"] == 5
    assert cli("jobs", "--status", "succeeded", "--json").json() == []
    text = cli("cleanup", "--days", "0")
    assert text.code == 0 and "trimmed 0 job(s)" in text.out and "trimmed so far: 5" in text.out
    bad = cli("cleanup", "--days", "-1")
    assert bad.code == 2 and "--days" in bad.err
