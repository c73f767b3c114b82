"""The worker: claims jobs, runs them concurrently, renews leases, shuts down gracefully."""

from chronoq.worker.runner import Worker, WorkerOptions

__all__ = ["Worker", "WorkerOptions"]
