"""Tasks for the huey runner (`huey_consumer huey_tasks.huey`, cwd = bench/systems)."""

from __future__ import annotations

import os

import _common as C
from huey import RedisHuey

URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")

# blocking=True (the default): workers wait in BRPOP, so the consumer's -d/-m/-b polling
# delays do not apply to the queue; results=False: no result store at all.
huey = RedisHuey("bench", url=URL, results=False)


@huey.task()
def noop() -> None:
    return None


@huey.task()
def stamp(t: float) -> None:
    C.record_start(t)


@huey.on_startup()
def _ready() -> None:
    # once per worker at startup (not per task): lets the runner see the worker is up
    C.mark_ready()
