"""The client: enqueue jobs and read their state. Async first, with a sync facade.

The modules: `async_client` (`Client`), `sync_client` (`SyncClient`), `request`
(`JobRequest` and how its options resolve), `results` (`EnqueuedJob`, `JobFailed`,
the enqueue hooks). Import from here: every name below.
"""

from chronoq.client.async_client import DEFAULT_IDEMPOTENCY_TTL, PUBLISHED_TTL, Batches, Client
from chronoq.client.request import JobRequest, TaskRef, dead_selection
from chronoq.client.results import CancelReply, EnqueuedJob, JobFailed, fire
from chronoq.client.sync_client import SyncClient

__all__ = [
    "DEFAULT_IDEMPOTENCY_TTL",
    "PUBLISHED_TTL",
    "Batches",
    "CancelReply",
    "Client",
    "EnqueuedJob",
    "JobFailed",
    "JobRequest",
    "SyncClient",
    "TaskRef",
    "dead_selection",
    "fire",
]
