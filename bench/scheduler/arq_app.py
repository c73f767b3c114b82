"""arq worker settings for the scheduler runner (`arq arq_app.WorkerSettings`).

second: `cron(tick, second=set(range(60)), microsecond=0)`; minute: `cron(tick, second=0,
microsecond=0)`; idle: one cron at a fixed hour:minute an hour from start; many:
SCHED_COUNT crons `cron(tick, name="cron:s<i>", minute=M, second=0, microsecond=0)`
(hourly at the minute 30 minutes from start; arq needs distinct names), plus the
per-second `tick` if SCHED_PERSEC=1. arq's default
microsecond is 123_456 (runs aimed at .123 s past the second); 0 here so due times are
whole seconds like the other systems. Other settings default (poll_delay 0.5 s, unique
cron jobs). The task reads its due time from its job id `cron:tick:<due ms>`.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta
from typing import Any

import redis
from arq import cron
from arq.connections import RedisSettings

DB = int(os.environ.get("SCHED_DB", "6"))
SCENARIO = os.environ.get("SCHED_SCENARIO", "second")
_r = redis.Redis(host="127.0.0.1", port=6379, db=DB)


async def tick(ctx: dict[str, Any]) -> None:
    now = time.time()
    due = int(str(ctx["job_id"]).rsplit(":", 1)[1]) / 1000
    _r.rpush("sched:starts", f"{now!r} {due!r}")


async def startup(ctx: dict[str, Any]) -> None:
    _r.set("sched:ready_at", repr(time.time()))
    _r.incr("sched:ready")


_PERSEC = cron(tick, second=set(range(60)), microsecond=0)
if SCENARIO == "second":
    _crons = [_PERSEC]
elif SCENARIO == "minute":
    _crons = [cron(tick, second=0, microsecond=0)]
elif SCENARIO == "many":
    _minute = (datetime.now() + timedelta(minutes=30)).minute
    _crons = [cron(tick, name=f"cron:s{i}", minute=_minute, second=0, microsecond=0)
              for i in range(int(os.environ["SCHED_COUNT"]))]  # fmt: skip
    if os.environ.get("SCHED_PERSEC") == "1":
        _crons.append(_PERSEC)
else:
    _at = datetime.now() + timedelta(hours=1)
    _crons = [cron(tick, hour=_at.hour, minute=_at.minute, second=0, microsecond=0)]


class WorkerSettings:
    functions: list[Any] = []
    cron_jobs = _crons
    redis_settings = RedisSettings(host="127.0.0.1", port=6379, database=DB)
    on_startup = startup
