"""Rate accuracy: a limit of 600/min (burst 10) held for 2 minutes against 4 worker
processes. Counts starts per minute and in every sliding 60 s window, and the share
of the allowance used.

    /work/venv/bin/python bench/control/rate_accuracy.py [--seconds 120] [--workers 4]
        [--rate 600/min] [--burst 10] [--redis-url redis://127.0.0.1:6379/9]

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

import redis

from chronoq.client import JobRequest
from chronoq.core.limits import parse_rate

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # so `bench.control.bench_app` imports as in the workers


def start_workers(
    n: int, url: str, prefix: str, env: dict[str, str]
) -> list[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "chronoq", "worker", "bench.control.bench_app:app",
               "--redis-url", url, "--prefix", prefix, "--concurrency", "16"]  # fmt: skip
    return [
        subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(n)
    ]


async def enqueue(url: str, prefix: str, count: int) -> None:
    from bench.control.bench_app import app, limited

    app.settings = app.settings.model_copy(update={"redis_url": url, "prefix": prefix})
    async with app.client() as client:
        await client.enqueue_many(JobRequest(limited, [n]) for n in range(count))


def analyse(starts: list[float], seconds: float, allowance: int, burst: int) -> dict[str, object]:
    first = starts[0]
    window = [s for s in starts if s < first + seconds]
    per_minute = [sum(1 for s in window if first + 60 * m <= s < first + 60 * (m + 1))
                  for m in range(int(seconds // 60))]  # fmt: skip
    worst = 0
    j = 0
    for i, start in enumerate(window):
        while j < len(window) and window[j] < start + 60:
            j += 1
        worst = max(worst, j - i)
    expected = allowance * seconds / 60
    return {
        "starts": len(window),
        "per_minute": per_minute,
        "max_in_any_60s": worst,
        "bound": allowance + burst,
        "within_bound": worst <= allowance + burst,
        "allowance_used": round(len(window) / expected, 4),
        "at_least_95pct": len(window) >= 0.95 * expected,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rate", default="600/min")
    parser.add_argument("--burst", type=int, default=10)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    args = parser.parse_args()
    count, period = parse_rate(args.rate)
    per_minute = count * 60_000 / period.ms
    prefix = f"bench-rate-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "BENCH_RATE": args.rate, "BENCH_BURST": str(args.burst),
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    conn = redis.Redis.from_url(args.redis_url, decode_responses=True)
    jobs = int(per_minute * args.seconds / 60 * 1.3) + args.burst
    asyncio.run(enqueue(args.redis_url, prefix, jobs))
    workers = start_workers(args.workers, args.redis_url, prefix, env)
    try:
        time.sleep(args.seconds + 8)
        starts = sorted(float(s) for s in conn.lrange(f"{prefix}:bench:starts", 0, -1))
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        for key in conn.scan_iter(match=f"{prefix}:*", count=1000):
            conn.delete(key)
    result = {"rate": args.rate, "burst": args.burst, "workers": args.workers,
              "seconds": args.seconds, "jobs_enqueued": jobs,
              **analyse(starts, args.seconds, int(per_minute), args.burst)}  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    main()
