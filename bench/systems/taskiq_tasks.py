"""taskiq app for the bench (imported by `taskiq worker taskiq_tasks:broker`).

No result backend (taskiq's default DummyResultBackend: results are not stored).
"""

from __future__ import annotations

import os

import _common as C
from taskiq import TaskiqEvents, TaskiqScheduler, TaskiqState
from taskiq_redis import ListQueueBroker, ListRedisScheduleSource

DB = int(os.environ.get("BENCH_DB", "10"))
URL = C.url(DB)

broker = ListQueueBroker(URL)
source = ListRedisScheduleSource(URL)
scheduler = TaskiqScheduler(broker, sources=[source])


@broker.task
async def noop() -> None:
    return None


@broker.task
async def stamp(t: float) -> None:
    C.record_start(t)


@broker.on_event(TaskiqEvents.WORKER_STARTUP)
async def on_startup(state: TaskiqState) -> None:
    C.mark_ready()
