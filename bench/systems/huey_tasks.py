"""Tasks for the huey runner (`huey_consumer huey_tasks.huey`, cwd = bench/systems)."""

from __future__ import annotations

import os
import time

import redis
from huey import RedisHuey

URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")

# blocking=True (the default): workers wait in BRPOP, so the consumer's -d/-m/-b polling
# delays do not apply to the queue; results are on by default (None is not stored).
huey = RedisHuey("bench", url=URL)

_conn: redis.Redis | None = None


def _r() -> redis.Redis:
    global _conn  # noqa: PLW0603
    if _conn is None:
        _conn = redis.Redis.from_url(URL)
    return _conn


@huey.task()
def noop() -> None:
    return None


@huey.task()
def record_start() -> None:
    _r().rpush("bench:starts", repr(time.time()))


@huey.task()
def record_delayed(due: float) -> None:
    _r().rpush("bench:starts", f"{time.time()!r} {due!r}")


@huey.on_startup()
def _ready() -> None:
    # once per worker at startup (not per task): lets the runner see the worker is up
    _r().incr("bench:ready")
