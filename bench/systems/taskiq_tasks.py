"""taskiq app for the bench (imported by `taskiq worker taskiq_tasks:broker`)."""

from __future__ import annotations

import os
import time

import redis
from taskiq import TaskiqEvents, TaskiqScheduler, TaskiqState
from taskiq_redis import ListQueueBroker, ListRedisScheduleSource, RedisAsyncResultBackend

DB = int(os.environ.get("BENCH_DB", "10"))
URL = f"redis://127.0.0.1:6379/{DB}"
STARTS = "bench:starts"
READY = "bench:ready"

broker = ListQueueBroker(URL).with_result_backend(RedisAsyncResultBackend(URL))
source = ListRedisScheduleSource(URL)
scheduler = TaskiqScheduler(broker, sources=[source])
_stamp_redis = None


@broker.task
async def noop() -> None:
    return None


@broker.task
async def stamp(due: float = 0.0) -> None:
    now = time.time()
    global _stamp_redis  # noqa: PLW0603
    if _stamp_redis is None:
        _stamp_redis = redis.Redis(host="127.0.0.1", port=6379, db=DB)
    _stamp_redis.rpush(STARTS, f"{now} {due}")


@broker.on_event(TaskiqEvents.WORKER_STARTUP)
async def on_startup(state: TaskiqState) -> None:
    redis.Redis(host="127.0.0.1", port=6379, db=DB).incr(READY)
