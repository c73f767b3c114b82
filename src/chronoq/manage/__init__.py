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

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Each name loads its module on first use (PEP 562): a worker imports
# chronoq.manage.base (workflows build on it) and none of the handles.
_MODULES = {
    "Alerts": "alerts",
    "SyncAlerts": "alerts",
    "Handle": "base",
    "Opened": "base",
    "SyncFacade": "base",
    "task_name": "base",
    "_Opened": "base",
    "_SyncFacade": "base",
    "Limits": "limits",
    "Quotas": "limits",
    "SyncLimits": "limits",
    "SyncQuotas": "limits",
    "Fleet": "locks",
    "LockAdmin": "locks",
    "SyncFleet": "locks",
    "SyncLockAdmin": "locks",
    "QueueAdmin": "queues",
    "SyncQueueAdmin": "queues",
    "Schedules": "schedules",
    "SyncSchedules": "schedules",
}
_HANDLES = {
    "ScheduleHandle": ("Schedules", "SyncSchedules"),
    "AlertHandle": ("Alerts", "SyncAlerts"),
    "LimitHandle": ("Limits", "SyncLimits"),
    "QuotaHandle": ("Quotas", "SyncQuotas"),
    "QueueAdminHandle": ("QueueAdmin", "SyncQueueAdmin"),
    "LockAdminHandle": ("LockAdmin", "SyncLockAdmin"),
    "FleetHandle": ("Fleet", "SyncFleet"),
}


def __getattr__(name: str) -> Any:
    if name in _HANDLES:
        value: Any = __getattr__("Handle")[tuple(__getattr__(n) for n in _HANDLES[name])]
    elif name in _MODULES:
        module = importlib.import_module(f"chronoq.manage.{_MODULES[name]}")
        value = getattr(module, name.lstrip("_"))
    else:
        raise AttributeError(f"module 'chronoq.manage' has no attribute {name!r}")
    globals()[name] = value
    return value


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
