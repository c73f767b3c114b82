"""An app for tests that run real worker processes (`chronoq worker tests.sample_app:app`).

Key prefix and server come from the command line (`--prefix`, `--redis-url`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

from chronoq import App, Backoff
from chronoq.worker.recycling import resident_memory

app = App("sample")


@app.task
async def add(a: int, b: int) -> int:
    return a + b


@app.task(max_retries=0)
async def boom(message: str) -> None:
    raise RuntimeError(message)


@app.task
async def nap(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


@app.task
def blocking_nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@app.task(max_retries=2, backoff=Backoff(base=0.05, maximum=0.1, jitter=0))
async def kill_my_worker() -> None:
    """Simulates a task that crashes its process (segfault, OOM kill) every time."""
    os.kill(os.getpid(), signal.SIGKILL)


app.limit("sample-rate", "20/s")


@app.task(rate_limit="sample-rate", rate_key="{key}")
async def limited(key: str, n: int) -> int:
    return n


@app.task(max_retries=3)
async def wait_for_cancel(seconds: float) -> str:
    """Runs until cancelled (then gives up as asked) or `seconds` pass."""
    from chronoq import current_job

    job = current_job()
    for _ in range(int(seconds * 100)):
        job.raise_if_cancelled()
        await asyncio.sleep(0.01)
    return "not cancelled"


_hoard: list[bytes] = []  # what `hog` keeps: memory a leaky task never gives back


@app.task
async def hog(megabytes: int, seconds: float = 0.0) -> int:
    """Allocates `megabytes` (touched, so resident) and keeps them; then naps. Returns
    the process's RSS in bytes, as the worker's memory limit measures it."""
    _hoard.append(b"\x01" * (megabytes * 2**20))
    await asyncio.sleep(seconds)
    return resident_memory() or 0


@app.task
async def rss() -> int:
    """The worker process's RSS in bytes (a baseline for memory limits)."""
    return resident_memory() or 0
