"""chronoq app for the scheduler runner (cwd = bench/scheduler).

SCHED_SCENARIO: second -> `* * * * * *`, minute -> `* * * * *`, idle/many -> `@every 1h`
(declared in code, so the worker/scheduler stores it at start). The task RPUSHes its
start time (chronoq does not pass the due time to the task; the runner matches starts
to due seconds).
"""

from __future__ import annotations

import os
import time

import redis

from chronoq import App

DB = int(os.environ.get("SCHED_DB", "6"))
SCENARIO = os.environ.get("SCHED_SCENARIO", "second")
URL = f"redis://127.0.0.1:6379/{DB}"
PREFIX = "bs"

app = App("bench", redis_url=URL, prefix=PREFIX)
_r = redis.Redis.from_url(URL)


@app.task(name="tick")
async def tick() -> None:
    _r.rpush("sched:starts", f"{time.time()!r} -")


@app.startup
async def _ready(_app: App) -> None:
    _r.incr("sched:ready")


SPECS = {"second": "* * * * * *", "minute": "* * * * *", "idle": "@every 1h", "many": "@every 1h"}
app.schedule("tick", SPECS[SCENARIO], tick)
