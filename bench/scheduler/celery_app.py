"""Celery app for the celery and redbeat scheduler runners (cwd = bench/scheduler).

SCHED_SCENARIO: second -> beat_schedule `timedelta(seconds=1)`, minute -> `crontab()`,
idle -> `timedelta(hours=1)`; many -> SCHED_COUNT entries `s0..sN-1`, each
`timedelta(hours=1)` (first due an hour after beat stores it), plus the per-second `tick`
if SCHED_PERSEC=1. SCHED_SYSTEM=redbeat: the same entries through RedBeatScheduler
(stored in Redis, key prefix `redbeat:`).
The schedulers below only add the entry's due time as the task's `due` kwarg
(due = now + schedule.remaining_estimate(last_run_at), computed just before sending),
so lateness is measured from celery's own idea of the due time.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta

import redis
from celery import Celery
from celery.beat import PersistentScheduler
from celery.schedules import crontab
from celery.signals import beat_init, worker_ready

DB = int(os.environ.get("SCHED_DB", "6"))
SCENARIO = os.environ.get("SCHED_SCENARIO", "second")
SYSTEM = os.environ.get("SCHED_SYSTEM", "celery")
URL = f"redis://127.0.0.1:6379/{DB}"

app = Celery("celery_app", broker=URL)
app.conf.update(task_ignore_result=True, broker_connection_retry_on_startup=True,
                timezone="UTC", enable_utc=True)  # fmt: skip
_SCHEDULES = {"second": timedelta(seconds=1), "minute": crontab(), "idle": timedelta(hours=1)}
if SCENARIO == "many":
    app.conf.beat_schedule = {
        f"s{i}": {"task": "celery_app.tick", "schedule": timedelta(hours=1)}
        for i in range(int(os.environ["SCHED_COUNT"]))
    }
    if os.environ.get("SCHED_PERSEC") == "1":
        app.conf.beat_schedule["tick"] = {"task": "celery_app.tick",
                                          "schedule": timedelta(seconds=1)}  # fmt: skip
else:
    app.conf.beat_schedule = {"tick": {"task": "celery_app.tick",
                                       "schedule": _SCHEDULES[SCENARIO]}}  # fmt: skip
if SYSTEM == "redbeat":
    app.conf.redbeat_redis_url = URL

_r = redis.Redis.from_url(URL)


@app.task(name="celery_app.tick")
def tick(due: float | None = None) -> None:
    _r.rpush("sched:starts", f"{time.time()!r} {'-' if due is None else repr(due)}")


def _with_due(entry):  # type: ignore[no-untyped-def]
    now = entry.schedule.now()
    due = now + entry.schedule.remaining_estimate(entry.last_run_at)
    entry.kwargs = {"due": due.timestamp()}
    return entry


class DueScheduler(PersistentScheduler):
    def apply_async(self, entry, producer=None, advance=True, **kwargs):  # type: ignore[no-untyped-def]
        if entry.name == "tick":
            entry = _with_due(entry)
        return super().apply_async(entry, producer=producer, advance=advance, **kwargs)


if SYSTEM == "redbeat":
    from redbeat import RedBeatScheduler

    class DueRedBeatScheduler(RedBeatScheduler):
        def apply_async(self, entry, producer=None, advance=True, **kwargs):  # type: ignore[no-untyped-def]
            if entry.name == "tick":
                entry = _with_due(entry)
            return super().apply_async(entry, producer=producer, advance=advance, **kwargs)


@worker_ready.connect
def _worker_ready(**_: object) -> None:
    _r.incr("sched:ready")


@beat_init.connect
def _beat_ready(**_: object) -> None:
    _r.set("sched:ready_at", repr(time.time()))
    _r.incr("sched:ready")
