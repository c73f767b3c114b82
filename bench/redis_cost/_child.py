"""The chronoq side of bench/redis_cost/run.py, run with PYTHONPATH pointing at the src
tree being measured (this worktree's or an old commit's), so it only uses API that both
have: Settings(redis_url, prefix, retention, keep_result), App, SyncClient.enqueue_many,
Worker(app, WorkerOptions(queues=...)).

    python _child.py enqueue URL N     N no-op jobs on queue 'default', in one call
    python _child.py worker URL        one Worker until SIGTERM (then a clean stop)
    python _child.py replay URL BATCH  the job path alone, one client: claim BATCH jobs,
                                       complete them, until none is left (no task runs)
"""

from __future__ import annotations

import asyncio
import signal
import sys

from chronoq import App
from chronoq.client import JobRequest
from chronoq.core.settings import Settings
from chronoq.worker import Worker, WorkerOptions

PREFIX = "rc"
RETENTION = 1.0  # as bench/systems/chronoq.py: finished records expire 1 s after the finish


async def noop() -> None:
    return None


def make_app(url: str) -> tuple[App, object]:
    settings = Settings(redis_url=url, prefix=PREFIX, retention=RETENTION, keep_result=0)
    app = App("rc", settings=settings)
    task = app.task(name="noop")(noop)
    return app, task


def enqueue(url: str, n: int) -> None:
    app, task = make_app(url)
    client = app.sync_client()
    try:
        for start in range(0, n, 5000):
            client.enqueue_many([JobRequest(task) for _ in range(min(5000, n - start))])  # type: ignore[arg-type]
    finally:
        client.close()


def worker(url: str) -> None:
    app, _ = make_app(url)

    async def go() -> None:
        w = Worker(app, WorkerOptions(queues="default"))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, w.request_stop)
        print("ready", flush=True)
        await w.run()

    asyncio.run(go())


def replay(url: str, batch: int) -> None:
    """The scripts every job goes through (claim, complete), in fixed batches: the
    same calls for every tree, whatever the timing (what the callgrind figure needs)."""
    app, _ = make_app(url)
    retention_ms = int(RETENTION * 1000)

    async def go() -> None:
        async with app.client() as client:
            broker = client.broker
            while True:
                claim = await broker.claim(
                    "default",
                    batch,
                    lease_ms=60_000,
                    token="tok",
                    worker_id="replay",
                    retention_ms=retention_ms,
                    register_idle=False,
                )
                if not claim.jobs:
                    return
                outcomes = [(job.id, "tok", "") for job in claim.jobs]
                await broker.complete(
                    "default", outcomes, retention_ms=retention_ms, result_ttl_ms=0
                )

    asyncio.run(go())


def main() -> None:
    mode, url = sys.argv[1], sys.argv[2]
    if mode == "enqueue":
        enqueue(url, int(sys.argv[3]))
    elif mode == "worker":
        worker(url)
    elif mode == "replay":
        replay(url, int(sys.argv[3]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
