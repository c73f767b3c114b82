"""Celery app for the celery runner (`celery -A celery_tasks worker`, cwd = bench/systems)."""

from __future__ import annotations

import os

import _common as C
from celery import Celery
from celery.signals import worker_ready

URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")

app = Celery("celery_tasks", broker=URL)
app.conf.update(
    task_ignore_result=True,  # no result backend, no result writes
    # Celery's optimizing guide: for many short tasks where throughput matters, a large
    # prefetch multiplier ("say 64, or 128"); default 4
    worker_prefetch_multiplier=64,
    broker_connection_retry_on_startup=True,
)


@app.task
def noop() -> None:
    return None


@app.task
def stamp(t: float) -> None:
    C.record_start(t)


@worker_ready.connect
def _ready(**_: object) -> None:
    # startup only (not per task): lets the runner see that the worker is consuming
    C.mark_ready()
