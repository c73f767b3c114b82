"""chronoq: job scheduling for Python on Redis."""

from chronoq.app import App, Task
from chronoq.client import Client, SyncClient
from chronoq.core.context import JobContext, current_job, report_progress
from chronoq.core.errors import (
    ChronoqError,
    JobCancelled,
    JobNotFound,
    LockLost,
    LockTimeout,
    NotInJob,
    RateLimited,
    SerializationError,
)
from chronoq.core.events import EventKind, JobEvent
from chronoq.core.job import Gate, Job, JobStatus, LimitRef
from chronoq.core.retry import Backoff

__all__ = [
    "App",
    "Backoff",
    "ChronoqError",
    "Client",
    "EventKind",
    "Gate",
    "Job",
    "JobCancelled",
    "JobContext",
    "JobEvent",
    "JobNotFound",
    "JobStatus",
    "LimitRef",
    "LockLost",
    "LockTimeout",
    "NotInJob",
    "RateLimited",
    "SerializationError",
    "SyncClient",
    "Task",
    "current_job",
    "report_progress",
]
__version__ = "0.1.0"
