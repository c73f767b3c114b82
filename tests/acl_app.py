"""An app for the ACL tests' worker process: a plain task, a rate-limited one, one that
takes a lock, and a schedule due every second (the worker runs the scheduler loop)."""

from __future__ import annotations

import asyncio

from chronoq import App, current_job

app = App("acl")
app.limit("acl-rate", "50/s")


@app.task
async def add(a: int, b: int) -> int:
    return a + b


@app.task(rate_limit="acl-rate")
async def limited(n: int) -> int:
    return n


@app.task
async def locked(n: int) -> int:
    async with app.lock("acl-lock", ttl=5):
        return n


@app.task
async def tick() -> None:
    return None


@app.task
async def waits() -> None:
    """Runs until cancelled."""
    job = current_job()
    while True:
        job.raise_if_cancelled()
        await asyncio.sleep(0.02)


app.schedule("acl-tick", "* * * * * *", tick)
