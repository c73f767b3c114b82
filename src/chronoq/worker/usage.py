"""What a worker process adds to the operations rollups (`chronoq.core.ops`), written
on its heartbeat: never per job.

* Its memory and CPU: each beat samples the resident memory (`resident_memory`) and
  the CPU time used since the last beat (`time.process_time`: every thread of the
  process, the task threads included), counted under each queue the worker serves
  (a worker serving two queues counts in both: the rollup is "workers of this
  queue", not a split of one process).
* Its rate-limit and quota decisions: the throttle reports each limit's grants and
  denials per batch of claimed jobs (plain additions), written with the next beat.

A failed write keeps the counts for the next beat, up to `MAX_KEPT` values.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from chronoq.core.ops import OpsBatch
from chronoq.redis.ops import OpsStore
from chronoq.worker.recycling import resident_memory

log = logging.getLogger("chronoq.worker")
MAX_KEPT = 10_000


class ProcessUsage:
    def __init__(self, store: OpsStore, queues: Sequence[str], *, enabled: bool = True) -> None:
        self._store = store
        self._queues = tuple(queues)
        self._enabled = enabled
        self._batch = OpsBatch()
        self._cpu = time.process_time()

    def limit_decided(self, limit: str, granted: int, denied: int) -> None:
        """One batch's decisions of one limit (the throttle calls this)."""
        if self._enabled:
            now_ms = int(time.time() * 1000)
            self._batch.count("limit", limit, "granted", now_ms, granted)
            self._batch.count("limit", limit, "denied", now_ms, denied)

    def sample(self) -> None:
        """Count this process's memory now and its CPU time since the last sample."""
        if not self._enabled:
            return
        now_ms = int(time.time() * 1000)
        cpu = time.process_time()
        cpu_ms, self._cpu = round((cpu - self._cpu) * 1000), cpu
        rss = resident_memory() or 0
        for queue in self._queues:
            self._batch.count("worker", queue, "samples", now_ms)
            self._batch.count("worker", queue, "cpu_ms", now_ms, cpu_ms)
            if rss:
                self._batch.count("worker", queue, "rss_sum", now_ms, rss)
                self._batch.peak("worker", queue, "rss_max", now_ms, rss)

    async def beat(self) -> None:
        """The heartbeat's part: sample, then write what was counted since the last
        beat (one round trip). A failure keeps the counts and is raised (the
        heartbeat logs it once per outage)."""
        self.sample()
        if not self._batch:
            return
        batch, self._batch = self._batch, OpsBatch()
        try:
            await self._store.write(batch)
        except Exception:
            if len(batch.values) < MAX_KEPT:
                batch.merge(self._batch)
                self._batch = batch
            else:
                log.warning("chronoq: dropped %d operations count(s)", len(batch.values))
            raise
