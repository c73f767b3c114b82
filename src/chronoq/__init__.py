"""chronoq: job scheduling for Python on Redis.

Everything a user imports is here; `__all__` is the public API (the API reference
in docs/ documents exactly these names, and a test keeps the two equal).

The names load on first use (PEP 562): `import chronoq.worker` in a worker process,
or `chronoq --help`, then pays only for what it uses, not for every module behind
the public API (the dashboard's read models, workflows, campaigns). Type checkers
read the imports under TYPE_CHECKING, which name the same modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chronoq.app import App, Task
    from chronoq.bulk import OperationRunner, Operations, SyncOperations, operations
    from chronoq.client import Client, EnqueuedJob, JobFailed, JobRequest, SyncClient
    from chronoq.control.ledger import Ledger
    from chronoq.control.locks import Lock
    from chronoq.control.sync_locks import SyncLock
    from chronoq.core.alerts import AlertRule, EmailChannel, RuleKind, Silence, WebhookChannel
    from chronoq.core.context import JobContext, current_job, report_progress
    from chronoq.core.errors import (
        CampaignNotFound,
        ChronoqError,
        ConfigurationError,
        InvalidJobState,
        JobCancelled,
        JobNotFound,
        JobTimeout,
        LedgerConflict,
        LimitNotFound,
        LockLost,
        LockTimeout,
        NotInJob,
        NotReplicated,
        OperationConflict,
        OperationNotFound,
        PayloadTooLarge,
        Permanent,
        RateLimited,
        RetryAfter,
        ScheduleExists,
        ScheduleNotFound,
        SerializationError,
        ServerUnsafe,
        SoftTimeLimit,
        UnknownTask,
    )
    from chronoq.core.events import EventKind, JobEvent
    from chronoq.core.job import Gate, GatePolicy, Job, JobStatus, LimitRef
    from chronoq.core.ledger import LedgerEntry
    from chronoq.core.limits import Kind, Limit, Period, Window, WindowRate
    from chronoq.core.operations import Edits, Operation, OperationKind, OperationState
    from chronoq.core.retry import Backoff
    from chronoq.core.settings import Settings
    from chronoq.manage import (
        Fleet,
        Limits,
        LockAdmin,
        QueueAdmin,
        Quotas,
        Schedules,
        SyncFleet,
        SyncLimits,
        SyncLockAdmin,
        SyncQueueAdmin,
        SyncQuotas,
        SyncSchedules,
    )
    from chronoq.manage.schedule_models import Backfill, RunView
    from chronoq.observe.search import JobFilter
    from chronoq.redis.inspector import QueueCounts
    from chronoq.redis.limit_state import LimitState
    from chronoq.redis.limits import KeyUsage
    from chronoq.redis.liveness import LoopBeat, WorkerInfo
    from chronoq.redis.lock_registry import ForcedRelease, LockInfo
    from chronoq.redis.queue_control import DrainResult, QueuePause
    from chronoq.redis.records import Records
    from chronoq.redis.schedules import ScheduleInfo
    from chronoq.schedule.model import Misfire, Overlap, ScheduleDef
    from chronoq.schedule.runs import RunKind, RunRecord
    from chronoq.schedule.timeline import Calendar, PlannedRun, SpecCheck
    from chronoq.worker import Worker, WorkerFailed, WorkerOptions
    from chronoq.workflows import Chain, FanOut, Step, SyncWorkflows, Workflows, fan_out

# Where each public name is defined (tests/test_public_api.py checks that it matches
# the TYPE_CHECKING imports above and __all__).
_EXPORTS: dict[str, str] = {
    "App": "chronoq.app",
    "Task": "chronoq.app",
    "OperationRunner": "chronoq.bulk",
    "Operations": "chronoq.bulk",
    "SyncOperations": "chronoq.bulk",
    "operations": "chronoq.bulk",
    "Client": "chronoq.client",
    "EnqueuedJob": "chronoq.client",
    "JobFailed": "chronoq.client",
    "JobRequest": "chronoq.client",
    "SyncClient": "chronoq.client",
    "Ledger": "chronoq.control.ledger",
    "Lock": "chronoq.control.locks",
    "SyncLock": "chronoq.control.sync_locks",
    "AlertRule": "chronoq.core.alerts",
    "EmailChannel": "chronoq.core.alerts",
    "RuleKind": "chronoq.core.alerts",
    "Silence": "chronoq.core.alerts",
    "WebhookChannel": "chronoq.core.alerts",
    "JobContext": "chronoq.core.context",
    "current_job": "chronoq.core.context",
    "report_progress": "chronoq.core.context",
    "CampaignNotFound": "chronoq.core.errors",
    "ChronoqError": "chronoq.core.errors",
    "ConfigurationError": "chronoq.core.errors",
    "InvalidJobState": "chronoq.core.errors",
    "JobCancelled": "chronoq.core.errors",
    "JobNotFound": "chronoq.core.errors",
    "JobTimeout": "chronoq.core.errors",
    "LedgerConflict": "chronoq.core.errors",
    "LimitNotFound": "chronoq.core.errors",
    "LockLost": "chronoq.core.errors",
    "LockTimeout": "chronoq.core.errors",
    "NotInJob": "chronoq.core.errors",
    "NotReplicated": "chronoq.core.errors",
    "OperationConflict": "chronoq.core.errors",
    "OperationNotFound": "chronoq.core.errors",
    "PayloadTooLarge": "chronoq.core.errors",
    "Permanent": "chronoq.core.errors",
    "RateLimited": "chronoq.core.errors",
    "RetryAfter": "chronoq.core.errors",
    "ScheduleExists": "chronoq.core.errors",
    "ScheduleNotFound": "chronoq.core.errors",
    "SerializationError": "chronoq.core.errors",
    "ServerUnsafe": "chronoq.core.errors",
    "SoftTimeLimit": "chronoq.core.errors",
    "UnknownTask": "chronoq.core.errors",
    "EventKind": "chronoq.core.events",
    "JobEvent": "chronoq.core.events",
    "Gate": "chronoq.core.job",
    "GatePolicy": "chronoq.core.job",
    "Job": "chronoq.core.job",
    "JobStatus": "chronoq.core.job",
    "LimitRef": "chronoq.core.job",
    "LedgerEntry": "chronoq.core.ledger",
    "Kind": "chronoq.core.limits",
    "Limit": "chronoq.core.limits",
    "Period": "chronoq.core.limits",
    "Window": "chronoq.core.limits",
    "WindowRate": "chronoq.core.limits",
    "Edits": "chronoq.core.operations",
    "Operation": "chronoq.core.operations",
    "OperationKind": "chronoq.core.operations",
    "OperationState": "chronoq.core.operations",
    "Backoff": "chronoq.core.retry",
    "Settings": "chronoq.core.settings",
    "Fleet": "chronoq.manage",
    "Limits": "chronoq.manage",
    "LockAdmin": "chronoq.manage",
    "QueueAdmin": "chronoq.manage",
    "Quotas": "chronoq.manage",
    "Schedules": "chronoq.manage",
    "SyncFleet": "chronoq.manage",
    "SyncLimits": "chronoq.manage",
    "SyncLockAdmin": "chronoq.manage",
    "SyncQueueAdmin": "chronoq.manage",
    "SyncQuotas": "chronoq.manage",
    "SyncSchedules": "chronoq.manage",
    "Backfill": "chronoq.manage.schedule_models",
    "RunView": "chronoq.manage.schedule_models",
    "JobFilter": "chronoq.observe.search",
    "QueueCounts": "chronoq.redis.inspector",
    "LimitState": "chronoq.redis.limit_state",
    "KeyUsage": "chronoq.redis.limits",
    "LoopBeat": "chronoq.redis.liveness",
    "WorkerInfo": "chronoq.redis.liveness",
    "ForcedRelease": "chronoq.redis.lock_registry",
    "LockInfo": "chronoq.redis.lock_registry",
    "DrainResult": "chronoq.redis.queue_control",
    "QueuePause": "chronoq.redis.queue_control",
    "Records": "chronoq.redis.records",
    "ScheduleInfo": "chronoq.redis.schedules",
    "Misfire": "chronoq.schedule.model",
    "Overlap": "chronoq.schedule.model",
    "ScheduleDef": "chronoq.schedule.model",
    "RunKind": "chronoq.schedule.runs",
    "RunRecord": "chronoq.schedule.runs",
    "Calendar": "chronoq.schedule.timeline",
    "PlannedRun": "chronoq.schedule.timeline",
    "SpecCheck": "chronoq.schedule.timeline",
    "Worker": "chronoq.worker",
    "WorkerFailed": "chronoq.worker",
    "WorkerOptions": "chronoq.worker",
    "Chain": "chronoq.workflows",
    "FanOut": "chronoq.workflows",
    "Step": "chronoq.workflows",
    "SyncWorkflows": "chronoq.workflows",
    "Workflows": "chronoq.workflows",
    "fan_out": "chronoq.workflows",
}

__all__ = [
    "AlertRule",
    "App",
    "Backfill",
    "Backoff",
    "Calendar",
    "CampaignNotFound",
    "Chain",
    "ChronoqError",
    "Client",
    "ConfigurationError",
    "DrainResult",
    "Edits",
    "EmailChannel",
    "EnqueuedJob",
    "EventKind",
    "FanOut",
    "Fleet",
    "ForcedRelease",
    "Gate",
    "GatePolicy",
    "InvalidJobState",
    "Job",
    "JobCancelled",
    "JobContext",
    "JobEvent",
    "JobFailed",
    "JobFilter",
    "JobNotFound",
    "JobRequest",
    "JobStatus",
    "JobTimeout",
    "KeyUsage",
    "Kind",
    "Ledger",
    "LedgerConflict",
    "LedgerEntry",
    "Limit",
    "LimitNotFound",
    "LimitRef",
    "LimitState",
    "Limits",
    "Lock",
    "LockAdmin",
    "LockInfo",
    "LockLost",
    "LockTimeout",
    "LoopBeat",
    "Misfire",
    "NotInJob",
    "NotReplicated",
    "Operation",
    "OperationConflict",
    "OperationKind",
    "OperationNotFound",
    "OperationRunner",
    "OperationState",
    "Operations",
    "Overlap",
    "PayloadTooLarge",
    "Period",
    "Permanent",
    "PlannedRun",
    "QueueAdmin",
    "QueueCounts",
    "QueuePause",
    "Quotas",
    "RateLimited",
    "Records",
    "RetryAfter",
    "RuleKind",
    "RunKind",
    "RunRecord",
    "RunView",
    "ScheduleDef",
    "ScheduleExists",
    "ScheduleInfo",
    "ScheduleNotFound",
    "Schedules",
    "SerializationError",
    "ServerUnsafe",
    "Settings",
    "Silence",
    "SoftTimeLimit",
    "SpecCheck",
    "Step",
    "SyncClient",
    "SyncFleet",
    "SyncLimits",
    "SyncLock",
    "SyncLockAdmin",
    "SyncOperations",
    "SyncQueueAdmin",
    "SyncQuotas",
    "SyncSchedules",
    "SyncWorkflows",
    "Task",
    "UnknownTask",
    "WebhookChannel",
    "Window",
    "WindowRate",
    "Worker",
    "WorkerFailed",
    "WorkerInfo",
    "WorkerOptions",
    "Workflows",
    "current_job",
    "fan_out",
    "operations",
    "report_progress",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        return _version()
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'chronoq' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, "__version__"})


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("chronoq")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+unknown"
