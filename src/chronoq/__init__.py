"""chronoq: job scheduling for Python on Redis.

Everything a user imports is here; `__all__` is the public API (the API reference
in docs/ documents exactly these names, and a test keeps the two equal).
"""

from importlib.metadata import PackageNotFoundError, version

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

try:
    __version__ = version("chronoq")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
