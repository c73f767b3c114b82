"""`SyncClient`: the blocking facade over `Client`, for sync callers. Enqueues go
over its own blocking connection (`SyncEnqueuer`); everything else runs on the
client's event loop in a daemon thread."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from chronoq.client.async_client import Client
from chronoq.client.request import JobRequest, TaskRef
from chronoq.client.results import CancelReply, EnqueuedJob, enqueued_events, fire, place_results
from chronoq.core.claims import Placement
from chronoq.core.job import Job, JobSpec, JobStatus
from chronoq.loop_thread import LoopThread
from chronoq.redis.inspector import QueueCounts
from chronoq.redis.sync_enqueue import SyncEnqueuer

T = TypeVar("T")


class SyncClient:
    """Blocking facade over Client, for sync code (scripts, web apps, sync tasks).

    It owns an event loop in a daemon thread, so it also works inside a running loop's
    thread pool (a plain `def` task can enqueue follow-up jobs).
    """

    def __init__(self, client_factory: Callable[[], Client]) -> None:
        self._thread = LoopThread("chronoq-sync-client")
        self._client = self._run(_make(client_factory))
        backend = self._client.backend
        self._enqueuer = SyncEnqueuer(
            backend.connector,
            backend.keys,
            backend.durability,
            backend.events_cap,
            spin=backend.sync_read_spin,
        )

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._thread.run(coro)

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._thread.running:
            self._enqueuer.close()
            self._run(self._client.close())
            self._thread.stop()

    def enqueue(self, task: TaskRef, *args: Any, **kwargs: Any) -> EnqueuedJob:
        if isinstance(task, str):
            return self.submit(JobRequest(task, args, kwargs))
        return self._enqueue_one(*self._client._build_call(task, args, kwargs))

    def submit(self, request: JobRequest) -> EnqueuedJob:
        unlearned = self._client.unlearned((request,))
        if unlearned:
            self._run(self._client.learn(unlearned))
        return self._enqueue_one(*self._client._build(request))

    def _enqueue_one(self, spec: JobSpec, placement: Placement) -> EnqueuedJob:
        """enqueue_many of one built job: one command on the blocking connection."""
        result = self._enqueuer.enqueue_one(spec.queue, spec, placement)
        hooks = self._client.hooks
        events = enqueued_events(hooks, spec.queue, [(0, spec, placement)], [result])
        if events:
            self._run(fire(hooks, events))
        return EnqueuedJob(result.id, spec.queue, result.status, result.created)

    def enqueue_many(self, requests: Iterable[JobRequest]) -> list[EnqueuedJob]:
        """Like Client.enqueue_many, on this thread's own blocking connection."""
        requests = list(requests)
        unlearned = self._client.unlearned(requests)
        if unlearned:
            self._run(self._client.learn(unlearned))
        by_queue, count = self._client._plan(requests)
        out: list[EnqueuedJob | None] = [None] * count
        hooks = self._client.hooks
        for queue, items in by_queue.items():
            results = self._enqueuer.enqueue(queue, [(s, p) for _, s, p in items])
            place_results(out, queue, items, results)
            events = enqueued_events(hooks, queue, items, results)
            if events:
                self._run(fire(hooks, events))
        return [job for job in out if job is not None]

    def job(self, job_id: str) -> Job:
        return self._run(self._client.job(job_id))

    def result(self, job_id: str, *, timeout: float = 30.0) -> Any:
        return self._run(self._client.result(job_id, timeout=timeout))

    def cancel(self, job_id: str) -> CancelReply:
        return self._run(self._client.cancel(job_id))

    def jobs(
        self, *, status: JobStatus | None = None, queue: str | None = None, limit: int = 50
    ) -> list[Job]:
        return self._run(self._client.jobs(status=status, queue=queue, limit=limit))

    def queues(self) -> list[QueueCounts]:
        return self._run(self._client.queues())

    def dead_jobs(self, *, queue: str | None = None, limit: int = 50) -> list[Job]:
        return self._run(self._client.dead_jobs(queue=queue, limit=limit))

    def requeue_dead(
        self,
        *,
        queue: str | None = None,
        job_id: str | None = None,
        task: str | None = None,
        error_contains: str | None = None,
        since: datetime | timedelta | float | None = None,
    ) -> int:
        """Like Client.requeue_dead."""
        return self._run(
            self._client.requeue_dead(
                queue=queue,
                job_id=job_id,
                task=task,
                error_contains=error_contains,
                since=since,
            )
        )

    def purge_dead(self, *, queue: str | None = None, job_id: str | None = None) -> int:
        return self._run(self._client.purge_dead(queue=queue, job_id=job_id))

    def retry(self, job_id: str) -> JobStatus:
        """Like Client.retry."""
        return self._run(self._client.retry(job_id))

    def delete(self, job_id: str) -> JobStatus:
        """Like Client.delete."""
        return self._run(self._client.delete(job_id))

    def workers(self) -> list[dict[str, str]]:
        return self._run(self._client.workers())


async def _make(factory: Callable[[], Client]) -> Client:
    return factory()
