"""Celery app for the celery runner (`celery -A celery_tasks worker`, cwd = bench/systems)."""

from __future__ import annotations

import os
import time

import redis
from celery import Celery
from celery.signals import worker_ready

URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")

app = Celery("celery_tasks", broker=URL)
app.conf.update(
    task_ignore_result=True,  # no result backend: throughput without result writes
    broker_connection_retry_on_startup=True,
)

_conn: redis.Redis | None = None


def _r() -> redis.Redis:
    global _conn  # noqa: PLW0603
    if _conn is None:
        _conn = redis.Redis.from_url(URL)
    return _conn


@app.task
def noop() -> None:
    return None


@app.task
def record_start() -> None:
    _r().rpush("bench:starts", repr(time.time()))


@app.task
def record_delayed(due: float) -> None:
    _r().rpush("bench:starts", f"{time.time()!r} {due!r}")


@worker_ready.connect
def _ready(**_: object) -> None:
    # startup only (not per task): lets the runner see that the worker is consuming
    redis.Redis.from_url(URL).incr("bench:ready")
