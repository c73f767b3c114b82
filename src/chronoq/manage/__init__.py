"""Schedules, rate limits, quotas, queues, locks and alerts managed from Python:
what the CLI does, as an API.

`app.schedules()`, `app.limits()` and `app.quotas()` each return a handle that opens
either way, so async and sync code get the same operations:

```
async with app.schedules() as schedules:          # async code
    await schedules.add("digest", "0 8 * * *", send_digest, tz="Europe/Paris")

with app.limits() as limits:                      # sync code (scripts, web views)
    limits.set("linkedin", "30/h", windows={"mon-fri 09:00-17:00": "10/h"})
```

Every change applies at once on every worker and scheduler (they watch for it).
The sync side runs the async one on an event loop of its own, in a daemon thread,
so it works from any thread, a plain `def` task included.
"""

from __future__ import annotations

from chronoq.manage.alerts import Alerts, SyncAlerts
from chronoq.manage.base import Handle, Opened, SyncFacade, task_name
from chronoq.manage.limits import Limits, Quotas, SyncLimits, SyncQuotas
from chronoq.manage.locks import Fleet, LockAdmin, SyncFleet, SyncLockAdmin
from chronoq.manage.queues import QueueAdmin, SyncQueueAdmin
from chronoq.manage.schedules import Schedules, SyncSchedules

# The names before manage.py became a package (chronoq.bulk imports them).
_Opened = Opened
_SyncFacade = SyncFacade

ScheduleHandle = Handle[Schedules, SyncSchedules]
AlertHandle = Handle[Alerts, SyncAlerts]
LimitHandle = Handle[Limits, SyncLimits]
QuotaHandle = Handle[Quotas, SyncQuotas]
QueueAdminHandle = Handle[QueueAdmin, SyncQueueAdmin]
LockAdminHandle = Handle[LockAdmin, SyncLockAdmin]
FleetHandle = Handle[Fleet, SyncFleet]

__all__ = [
    "AlertHandle",
    "Alerts",
    "Fleet",
    "FleetHandle",
    "Handle",
    "LimitHandle",
    "Limits",
    "LockAdmin",
    "LockAdminHandle",
    "Opened",
    "QueueAdmin",
    "QueueAdminHandle",
    "QuotaHandle",
    "Quotas",
    "ScheduleHandle",
    "Schedules",
    "SyncAlerts",
    "SyncFacade",
    "SyncFleet",
    "SyncLimits",
    "SyncLockAdmin",
    "SyncQueueAdmin",
    "SyncQuotas",
    "SyncSchedules",
    "task_name",
]
