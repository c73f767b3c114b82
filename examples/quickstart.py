"""The quickstart app: `chronoq up examples.quickstart:app` runs it.

With no CHRONOQ_REDIS_URL it uses the embedded server (data in ~/.chronoq).
On start-up it enqueues a few demo jobs so that something flows: an async task,
a blocking one (run in a thread), a delayed one, one with a priority, and a flaky
one that fails twice, then succeeds on its third attempt. A schedule adds 1 + 1
every ten seconds. Campaign steps take a lock key per campaign and a rate limit of
2 per second per account. Its keys live under their own prefix, `quickstart`, so
its schedule never fires into another app's queues. Watch them in another shell
with `chronoq jobs --prefix quickstart`, `chronoq queues --prefix quickstart`,
`chronoq schedules list --prefix quickstart` and `chronoq limits show outreach
--prefix quickstart` (or `export CHRONOQ_PREFIX=quickstart`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import UTC, datetime, timedelta

from chronoq import App, Backoff
from chronoq.client import JobRequest

app = App("quickstart", prefix="quickstart")
log = logging.getLogger("quickstart")


@app.task
async def add(a: int, b: int) -> int:
    await asyncio.sleep(0.01)
    return a + b


@app.task(queue="reports", timeout=30)
def build_report(name: str) -> dict[str, object]:
    """A plain `def`: it runs in the worker's thread pool, never blocking the loop."""
    time.sleep(0.2)
    return {"report": name, "rows": random.randint(10, 99)}


_attempts: dict[str, int] = {}


@app.task(max_retries=3, backoff=Backoff(base=0.5, maximum=5))
async def flaky(key: str) -> str:
    """Fails on its first two attempts, to show retries with backoff."""
    _attempts[key] = _attempts.get(key, 0) + 1
    if _attempts[key] < 3:
        raise ConnectionError(f"upstream unavailable (attempt {_attempts[key]})")
    return f"{key}: ok after {_attempts[key]} attempts"


# A recurring run: every worker runs a scheduler loop, and each run is enqueued once.
app.schedule("heartbeat", "@every 10s", add, args=[1, 1])

# Outside platforms: one step per campaign at a time, 2 starts per second per account.
app.limit("outreach", "2/s")


@app.task(lock="campaign:{campaign_id}", account="{account}", rate_limit="outreach")
async def campaign_step(account: str, campaign_id: int, step: int) -> str:
    await asyncio.sleep(0.05)
    return f"{account} campaign {campaign_id} step {step}"


@app.startup
async def enqueue_demo_jobs(app: App) -> None:
    async with app.client() as client:
        stamp = datetime.now(UTC).strftime("%H%M%S")
        jobs = await client.enqueue_many(
            [
                *(JobRequest(add, (i, i)) for i in range(5)),
                JobRequest(build_report, ("daily",), queue="reports", priority=5),
                JobRequest(add, (40, 2), delay=timedelta(seconds=3)),
                JobRequest(flaky, (f"demo-{stamp}",)),
                *(JobRequest(campaign_step, ("acme", 1, step)) for step in range(3)),
                JobRequest(campaign_step, ("globex", 2, 0)),
            ]
        )
    log.warning(
        "enqueued %d demo jobs; try: chronoq jobs --prefix quickstart / "
        "chronoq job %s --prefix quickstart",
        len(jobs),
        jobs[0].id,
    )
