"""chronoq: job scheduling for Python on Redis."""

from chronoq.app import App, Task
from chronoq.client import Client, SyncClient
from chronoq.core.errors import (
    ChronoqError,
    JobNotFound,
    SerializationError,
)
from chronoq.core.job import Job, JobStatus
from chronoq.core.retry import Backoff

__all__ = [
    "App",
    "Backoff",
    "ChronoqError",
    "Client",
    "Job",
    "JobNotFound",
    "JobStatus",
    "SerializationError",
    "SyncClient",
    "Task",
]
__version__ = "0.1.0"
