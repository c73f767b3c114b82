"""Running a worker inside the test's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from chronoq import App
from chronoq.worker import Worker, WorkerOptions


@asynccontextmanager
async def running_worker(app: App, **options: object) -> AsyncIterator[Worker]:
    """Start a worker as a task; stop it gracefully on exit."""
    worker = Worker(app, WorkerOptions(**options))  # type: ignore[arg-type]
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.request_stop()
        await asyncio.wait_for(task, 30)


async def wait_until(predicate: object, timeout: float = 10.0, interval: float = 0.01) -> None:
    """Await an async predicate until it is true, or fail after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if await predicate():  # type: ignore[operator]
            return
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)
