"""Retiring a worker after so many jobs or so much memory, so that its process is replaced.

Long-lived processes grow: a leaky library, a cache that is never cleared, memory
fragmentation. Like Celery's `max_tasks_per_child` and `max_memory_per_child`, a
worker given `max_jobs` stops once it has recorded that many outcomes, and one
given `max_memory` stops once its resident memory (RSS) reaches it. It stops the
way SIGTERM stops it: no more intake, running jobs get the shutdown timeout,
the rest are handed back (not an attempt). Jobs already running when the limit
is reached still finish, so a worker may record a few more than `max_jobs`.
`chronoq up` starts a fresh process in its place (`chronoq.cli.pool`).

Memory is measured after every recorded job and at every heartbeat (a job that
grows while it runs). A worker whose RSS is over the limit when it starts is
warned about, and recycles only after its first job: replacing it at once would
restart it forever.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from chronoq.core.errors import ConfigurationError
from chronoq.core.sizes import megabytes

log = logging.getLogger("chronoq.worker")

STATM = Path("/proc/self/statm")


def resident_memory() -> int | None:
    """This process's resident memory in bytes: the current RSS from /proc on Linux;
    elsewhere the peak RSS (getrusage), which only grows; None where neither exists."""
    try:
        pages = int(STATM.read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return _peak_resident_memory()


def _peak_resident_memory() -> int | None:
    try:
        import resource  # noqa: PLC0415 (not on Windows)
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024  # bytes vs KiB


class Recycling:
    """Decides when the worker `worker_id` retires; `stop()` starts its graceful stop.

    `reason` is the log line's text once it has decided, None until then."""

    def __init__(
        self,
        worker_id: str,
        *,
        max_jobs: int | None,
        max_memory: int | None,
        stop: Callable[[], None],
        measure: Callable[[], int | None] = resident_memory,
    ) -> None:
        if max_jobs is not None and max_jobs < 1:
            raise ConfigurationError("max_jobs must be at least 1")
        if max_memory is not None and max_memory < 1:
            raise ConfigurationError("max_memory must be at least 1 byte")
        self.worker_id = worker_id
        self.max_jobs = max_jobs
        self.max_memory = max_memory
        self.reason: str | None = None
        self.jobs = 0
        self._stop = stop
        self._measure = measure
        self._armed = True  # False while the memory a fresh worker started with is too much
        if max_memory is not None:
            self._check_start(max_memory)

    def _check_start(self, limit: int) -> None:
        rss = self._measure()
        if rss is None:
            log.warning(
                "chronoq worker %s cannot measure its memory here; the memory limit is ignored",
                self.worker_id,
            )
            self.max_memory = None
        elif rss >= limit:
            log.warning(
                "chronoq worker %s starts with RSS %s MB >= limit %s MB: the limit is too "
                "low; it recycles after each job",
                self.worker_id,
                megabytes(rss),
                megabytes(limit),
            )
            self._armed = False

    def job_recorded(self) -> None:
        """After each recorded outcome: recycle at `max_jobs`, or over the memory limit."""
        self.jobs += 1
        self._armed = True
        if self.max_jobs is not None and self.jobs >= self.max_jobs:
            self._recycle(f"recycling after {self.jobs} jobs")
        else:
            self.check_memory()

    def check_memory(self) -> None:
        """Recycle when the RSS is at or above the limit (cheap: one small read)."""
        if self.reason is not None or self.max_memory is None or not self._armed:
            return
        rss = self._measure()
        if rss is not None and rss >= self.max_memory:
            limit = megabytes(self.max_memory)
            self._recycle(f"recycling: RSS {megabytes(rss)} MB >= limit {limit} MB")

    def _recycle(self, reason: str) -> None:
        if self.reason is not None:
            return
        self.reason = reason
        log.info("chronoq worker %s %s", self.worker_id, reason)
        self._stop()
