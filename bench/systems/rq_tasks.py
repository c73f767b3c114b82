"""Task functions for the rq runner (imported by `rq worker` with cwd = bench/systems)."""

from __future__ import annotations

import os
import time

import redis

_conn: redis.Redis | None = None


def _r() -> redis.Redis:
    global _conn  # noqa: PLW0603
    if _conn is None:
        _conn = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
    return _conn


def noop() -> None:
    return None


def record_start() -> None:
    _r().rpush("bench:starts", repr(time.time()))


def record_delayed(due: float) -> None:
    _r().rpush("bench:starts", f"{time.time()!r} {due!r}")
