"""Fair sharing: time to first run of one job queued behind 10,000 of another
account's, with and without accounts (FIFO), against one worker process.

    /work/venv/bin/python bench/control/fairness.py [--backlog 10000]
        [--redis-url redis://127.0.0.1:6379/9]

Prints one JSON object; bench/control/run.py records it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.control.bench_app import app, fair, fifo  # noqa: E402

from chronoq.client import JobRequest  # noqa: E402


async def scenario(url: str, task: Any, backlog: int) -> dict[str, Any]:
    prefix = f"bench-fair-{uuid.uuid4().hex[:8]}"
    app.settings = app.settings.model_copy(update={"redis_url": url, "prefix": prefix})
    conn = redis.Redis.from_url(url, decode_responses=True)
    order_key = f"{prefix}:bench:order"
    command = [sys.executable, "-m", "chronoq", "worker", "bench.control.bench_app:app",
               "--redis-url", url, "--prefix", prefix, "--concurrency", "8"]  # fmt: skip
    async with app.client() as client:
        await client.enqueue_many(JobRequest(task, ["big", n]) for n in range(backlog))
        worker = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)  # fmt: skip
        try:
            while conn.llen(order_key) < 100:  # the backlog is being served
                await asyncio.sleep(0.01)
            ahead_at_enqueue = conn.llen(order_key)
            small = await client.submit(JobRequest(task, ["small", 0]))
            job = await _wait_started(client, small.id)
            while conn.llen(order_key) < backlog + 1:
                await asyncio.sleep(0.05)
            order = conn.lrange(order_key, 0, -1)
        finally:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
            for key in conn.scan_iter(match=f"{prefix}:*", count=1000):
                conn.delete(key)
    assert job.started_at and job.enqueued_at
    return {
        "time_to_first_run_ms": round((job.started_at - job.enqueued_at).total_seconds() * 1000, 1),
        "jobs_started_before_it": order.index("small:0") - ahead_at_enqueue,
        "backlog_left_at_enqueue": backlog - ahead_at_enqueue,
    }


async def _wait_started(client: Any, job_id: str) -> Any:
    while True:
        job = await client.job(job_id)
        if job.started_at is not None:
            return job
        await asyncio.sleep(0.001)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    args = parser.parse_args()
    started = time.time()
    result = {
        "backlog": args.backlog,
        "fair": asyncio.run(scenario(args.redis_url, fair, args.backlog)),
        "fifo": asyncio.run(scenario(args.redis_url, fifo, args.backlog)),
        "seconds": round(time.time() - started, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
