"""Producers that enqueue steadily from threads, for tests that break the server under them.

Each producer records every enqueue whose call *returned* (acknowledged: the caller was
told the job exists) and every error by type. Errors a producer may see while the server
fails over are the ones chronoq promises (`EXPECTED_ERRORS`); any other is recorded as
unexpected and fails the test that checks `unexpected`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from chronoq import App
from chronoq.client import JobRequest
from chronoq.core.errors import NotReplicated

ADD = "tests.sample_app.add"
# What a producer is told while no primary answers, or one answers without replicas.
EXPECTED_ERRORS = (redis.ConnectionError, redis.TimeoutError, NotReplicated)
PAUSE = 0.003  # between enqueues: steady load, not a flood
ERROR_PAUSE = 0.05
MAX_ENQUEUES = 20_000  # a bound on every loop, whatever happens


@dataclass
class Tally:
    """What one producer saw, in order. `acked` pairs each job id with the monotonic
    time its enqueue returned."""

    acked: list[tuple[str, float]] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    error_times: list[float] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    def ids(self) -> list[str]:
        return [job_id for job_id, _ in self.acked]

    def acked_since(self, moment: float) -> int:
        return sum(1 for _, at in self.acked if at >= moment)

    def summary(self) -> str:
        errors = ", ".join(f"{name} x{count}" for name, count in self.errors.items())
        return f"{len(self.acked)} acked, errors: {errors or 'none'}"


class Producer(threading.Thread):
    """Enqueues `add(n, 1)` until stopped, through the sync client's fast path
    (`kind="sync"`) or the async client on a loop of its own (`kind="async"`)."""

    def __init__(self, make_app: Callable[[], App], kind: str) -> None:
        super().__init__(name=f"producer-{kind}", daemon=True)
        self.make_app = make_app
        self.kind = kind
        self.tally = Tally()
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=30)
        assert not self.is_alive(), f"{self.name} did not stop"

    def __repr__(self) -> str:
        return f"<{self.kind} producer: {self.tally.summary()}>"

    def run(self) -> None:
        if self.kind == "sync":
            self._run_sync()
        else:
            asyncio.run(self._run_async())

    def _record_error(self, exc: Exception) -> None:
        tally = self.tally
        tally.error_times.append(time.monotonic())
        tally.errors[type(exc).__name__] += 1
        if not isinstance(exc, EXPECTED_ERRORS):
            tally.unexpected.append(f"{type(exc).__name__}: {exc}")

    def _run_sync(self) -> None:
        with self.make_app().sync_client() as client:
            for n in range(MAX_ENQUEUES):
                if self._halt.is_set():
                    return
                try:
                    job = client.submit(JobRequest(ADD, (n, 1), force=True))
                except Exception as exc:
                    self._record_error(exc)
                    time.sleep(ERROR_PAUSE)
                    continue
                self.tally.acked.append((job.id, time.monotonic()))
                time.sleep(PAUSE)

    async def _run_async(self) -> None:
        async with self.make_app().client() as client:
            for n in range(MAX_ENQUEUES):
                if self._halt.is_set():
                    return
                try:
                    job = await client.submit(JobRequest(ADD, (n, 1), force=True))
                except Exception as exc:
                    self._record_error(exc)
                    await asyncio.sleep(ERROR_PAUSE)
                    continue
                self.tally.acked.append((job.id, time.monotonic()))
                await asyncio.sleep(PAUSE)
