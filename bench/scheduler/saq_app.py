"""SAQ worker settings for the scheduler runner (`saq saq_app.settings`).

second: `CronJob(tick, cron="* * * * * *")` (croniter's 6-field form, seconds); minute:
`"* * * * *"`; idle: `"M H * * *"` an hour from start. Defaults otherwise (unique cron,
schedule timer 1 s, concurrency 10). The task reads its due time from `job.scheduled`.
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
    _r.incr("sched:ready")


_at = datetime.now(UTC) + timedelta(hours=1)
_CRON = {"second": "* * * * * *", "minute": "* * * * *", "idle": f"{_at.minute} {_at.hour} * * *"}

settings = {
    "queue": Queue.from_url(URL),
    "functions": [tick],
    "cron_jobs": [CronJob(tick, cron=_CRON[SCENARIO])],
    "startup": startup,
}
