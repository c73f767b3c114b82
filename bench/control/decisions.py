"""Rate-limit decisions per second from one client: one request per script call, and
64 per call (a worker decides the jobs of one claim together); allowed and deferred.

    /work/venv/bin/python bench/control/decisions.py [--seconds 5]
        [--redis-url redis://127.0.0.1:6379/9]

Prints one JSON object; bench/control/run.py records it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

from chronoq.control.limiter import Limiter, LimitRequest
from chronoq.core.limits import Limit, Period
from chronoq.redis.connection import connect
from chronoq.redis.keys import Keyspace
from chronoq.redis.limits import LimitStore


async def rate(limiter: Limiter, name: str, batch: int, seconds: float, keys: int) -> float:
    requests = [[LimitRequest(f"k{(i * batch + j) % keys}") for j in range(batch)]
                for i in range(keys)]  # fmt: skip
    done = 0
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        await limiter.decide(name, requests[done // batch % len(requests)])
        done += batch
    return done / (time.perf_counter() - started)


async def main(url: str, seconds: float) -> dict[str, float]:
    redis = connect(url)
    prefix = f"bench-dec-{uuid.uuid4().hex[:8]}"
    limiter = Limiter(LimitStore(redis, Keyspace(prefix)))
    await limiter.store.set(Limit("open", 1_000_000, Period.SECOND, burst=1000))
    await limiter.store.set(Limit("tight", 1, Period.MINUTE))  # every request is booked ahead
    out = {
        "allowed_1_per_call": await rate(limiter, "open", 1, seconds, 100),
        "allowed_64_per_call": await rate(limiter, "open", 64, seconds, 100),
        "deferred_1_per_call": await rate(limiter, "tight", 1, seconds, 100),
        "deferred_64_per_call": await rate(limiter, "tight", 64, seconds, 100),
    }
    async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
        await redis.delete(key)
    await redis.aclose()
    return {k: round(v) for k, v in out.items()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.redis_url, args.seconds))))
