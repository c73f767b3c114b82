"""chronoq: job scheduling for Python on Redis.

Everything a user imports is here; `__all__` is the public API (the API reference
in docs/ documents exactly these names, and a test keeps the two equal).
"""

from importlib.metadata import PackageNotFoundError, version

from chronoq.app import App, Task
from chronoq.bulk import OperationRunner, Operations, SyncOperations, operations
from chronoq.client import Client, EnqueuedJob, JobFailed, JobRequest, SyncClient
from chronoq.control.locks import Lock
from chronoq.control.sync_locks import SyncLock
from chronoq.core.alerts import AlertRule, EmailChannel, RuleKind, Silence, WebhookChannel
from chronoq.core.context import JobContext, current_job, report_progress
from chronoq.core.errors import (
    ChronoqError,
    ConfigurationError,
    InvalidJobState,
    JobCancelled,
    JobNotFound,
    JobTimeout,
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
from chronoq.core.limits import Kind, Limit, Period, Window, WindowRate
from chronoq.core.operations import Edits, Operation, OperationKind, OperationState
from chronoq.core.retry import Backoff
from chronoq.core.settings import Settings
from chronoq.manage import Limits, Quotas, Schedules, SyncLimits, SyncQuotas, SyncSchedules
from chronoq.observe.search import JobFilter
from chronoq.redis.inspector import QueueCounts
from chronoq.redis.limits import KeyUsage
from chronoq.redis.schedules import ScheduleInfo
from chronoq.schedule.model import Misfire, Overlap, ScheduleDef
from chronoq.worker import Worker, WorkerFailed, WorkerOptions

__all__ = [
    "AlertRule",
    "App",
    "Backoff",
    "ChronoqError",
    "Client",
    "ConfigurationError",
    "Edits",
    "EmailChannel",
    "EnqueuedJob",
    "EventKind",
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
    "Limit",
    "LimitNotFound",
    "LimitRef",
    "Limits",
    "Lock",
    "LockLost",
    "LockTimeout",
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
    "QueueCounts",
    "Quotas",
    "RateLimited",
    "RetryAfter",
    "RuleKind",
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
    "SyncClient",
    "SyncLimits",
    "SyncLock",
    "SyncOperations",
    "SyncQuotas",
    "SyncSchedules",
    "Task",
    "UnknownTask",
    "WebhookChannel",
    "Window",
    "WindowRate",
    "Worker",
    "WorkerFailed",
    "WorkerOptions",
    "current_job",
    "operations",
    "report_progress",
]

try:
    __version__ = version("chronoq")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
