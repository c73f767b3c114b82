"""chronoq: job scheduling for Python on Redis."""

from chronoq.app import App, Task
from chronoq.client import Client, SyncClient
from chronoq.core.errors import (
    ChronoqError,
    JobNotFound,
    LockLost,
    LockTimeout,
    PayloadTooLarge,
    Permanent,
    RateLimited,
    RetryAfter,
    SerializationError,
    SoftTimeLimit,
)
from chronoq.core.job import Gate, Job, JobStatus, LimitRef
from chronoq.core.retry import Backoff

__all__ = [
    "App",
    "Backoff",
    "ChronoqError",
    "Client",
    "Gate",
    "Job",
    "JobNotFound",
    "JobStatus",
    "LimitRef",
    "LockLost",
    "LockTimeout",
    "PayloadTooLarge",
    "Permanent",
    "RateLimited",
    "RetryAfter",
    "SerializationError",
    "SoftTimeLimit",
    "SyncClient",
    "Task",
]
__version__ = "0.1.0"
