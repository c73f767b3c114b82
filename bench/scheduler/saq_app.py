"""SAQ worker settings for the scheduler runner (`saq saq_app.settings`).

second: `CronJob(tick, cron="* * * * * *")` (croniter's 6-field form, seconds); minute:
`"* * * * *"`; idle: `"M H * * *"` an hour from start; many: SCHED_COUNT CronJobs
`"M * * * *"` (hourly at the minute 30 minutes from start), each on its own function
`s<i>` (SAQ keys a unique cron job `cron:<function qualname>`, so N schedules need N
functions), plus the per-second `tick` if SCHED_PERSEC=1. Defaults otherwise (unique
cron, schedule timer 1 s, concurrency 10). The task reads its due time from
`job.scheduled`.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from saq import CronJob, Queue

DB = int(os.environ.get("SCHED_DB", "6"))
SCENARIO = os.environ.get("SCHED_SCENARIO", "second")
URL = f"redis://127.0.0.1:6379/{DB}"
_r = redis.Redis.from_url(URL)


async def tick(ctx: dict[str, Any]) -> None:
    now = time.time()
    job = ctx.get("job")
    due = getattr(job, "scheduled", None)
    _r.rpush("sched:starts", f"{now!r} {'-' if not due else repr(float(due))}")


async def startup(ctx: dict[str, Any]) -> None:
    _r.set("sched:ready_at", repr(time.time()))
    _r.incr("sched:ready")


def _hourly(i: int) -> Any:
    async def job(ctx: dict[str, Any]) -> None:
        await tick(ctx)

    job.__name__ = job.__qualname__ = f"s{i}"
    return job


_at = datetime.now(UTC) + timedelta(hours=1)
_CRON = {"second": "* * * * * *", "minute": "* * * * *", "idle": f"{_at.minute} {_at.hour} * * *"}
if SCENARIO == "many":
    _minute = (datetime.now(UTC) + timedelta(minutes=30)).minute
    _crons = [CronJob(_hourly(i), cron=f"{_minute} * * * *")
              for i in range(int(os.environ["SCHED_COUNT"]))]  # fmt: skip
    if os.environ.get("SCHED_PERSEC") == "1":
        _crons.append(CronJob(tick, cron="* * * * * *"))
else:
    _crons = [CronJob(tick, cron=_CRON[SCENARIO])]

settings = {
    "queue": Queue.from_url(URL),
    "functions": [tick],
    "cron_jobs": _crons,
    "startup": startup,
}
