"""The worker: claims jobs, runs them concurrently, renews leases, shuts down gracefully."""

from chronoq.worker.options import WorkerOptions
from chronoq.worker.runner import Worker
from chronoq.worker.signals import run_until_signalled
from chronoq.worker.supervisor import WorkerFailed

__all__ = ["Worker", "WorkerFailed", "WorkerOptions", "run_until_signalled"]
