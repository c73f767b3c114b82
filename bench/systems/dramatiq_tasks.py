"""Actors for the dramatiq runner (`dramatiq dramatiq_tasks`, cwd = bench/systems)."""

from __future__ import annotations

import os
import time

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")

broker = RedisBroker(url=URL)  # default middleware, no results backend
dramatiq.set_broker(broker)

_conn: redis.Redis | None = None


def _r() -> redis.Redis:
    global _conn  # noqa: PLW0603
    if _conn is None:
        _conn = redis.Redis.from_url(URL)
    return _conn


@dramatiq.actor
def noop() -> None:
    return None


@dramatiq.actor
def record_start() -> None:
    _r().rpush("bench:starts", repr(time.time()))


@dramatiq.actor
def record_delayed(due: float) -> None:
    _r().rpush("bench:starts", f"{time.time()!r} {due!r}")
