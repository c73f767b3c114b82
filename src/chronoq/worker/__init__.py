"""The worker: claims jobs, runs them concurrently, renews leases, shuts down gracefully.

Loaded with the garbage collector paused (chronoq.core.startup says why)."""

from chronoq.core.startup import collector_paused

with collector_paused():
    from chronoq.worker.options import WorkerOptions
    from chronoq.worker.runner import Worker
    from chronoq.worker.signals import run_until_signalled
    from chronoq.worker.supervisor import WorkerFailed

__all__ = ["Worker", "WorkerFailed", "WorkerOptions", "run_until_signalled"]
