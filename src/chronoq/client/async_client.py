"""The async `Client`: enqueue jobs (resolving each request against the app's
tasks, or the definitions its workers published) and read and act on their state."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from chronoq.client.request import (
    JobRequest,
    TaskRef,
    dead_selection,
    first,
    has_job_options,
    keys_of,
    placement_of,
)
from chronoq.client.results import (
    CancelReply,
    EnqueuedJob,
    JobFailed,
    enqueued_events,
    fire,
    place_results,
)
from chronoq.core import serialization
from chronoq.core.claims import NOW, Placement
from chronoq.core.errors import ConfigurationError, InvalidJobState
from chronoq.core.events import EventKind, HookRegistry, JobEvent
from chronoq.core.ids import new_job_id
from chronoq.core.job import Job, JobOptions, JobSpec, JobStatus, to_millis
from chronoq.core.registry import PublishedTask, unknown_task
from chronoq.core.settings import Settings
from chronoq.core.task import DEFAULT_QUEUE, TaskDef, TaskLike, TaskRegistry, bind_call
from chronoq.redis.backend import Backend
from chronoq.redis.connector import Connector
from chronoq.redis.inspector import QueueCounts
from chronoq.redis.records import Records

DEFAULT_IDEMPOTENCY_TTL = 86400.0
PUBLISHED_TTL = 5.0  # seconds a client trusts a published definition before reading it again
Batches = dict[str, list[tuple[int, JobSpec, Placement]]]


class Client:
    """Async client. Use `async with Client(url) as client:` or `app.client()`."""

    def __init__(
        self,
        redis_url: str,
        *,
        prefix: str = "chronoq",
        registry: TaskRegistry | None = None,
        settings: Settings | None = None,
        connector: Connector | None = None,
        hooks: HookRegistry | None = None,
    ) -> None:
        settings = settings or Settings(redis_url=redis_url, prefix=prefix)
        if settings.prefix != prefix:  # the argument names the keyspace
            settings = settings.model_copy(update={"prefix": prefix})
        self.settings = settings
        self.registry = registry if registry is not None else TaskRegistry()  # empty is falsy
        self.hooks = hooks or HookRegistry()  # "enqueued" and "cancelled" fire here
        self.url = redis_url
        self.backend = Backend.from_settings(settings, redis_url, connector=connector)
        self.broker = self.backend.broker
        self.inspector = self.backend.inspector
        self._options_cache: dict[str, JobOptions] = {}
        self._published: dict[str, tuple[PublishedTask, float]] = {}  # name -> (def, read at)

    async def __aenter__(self) -> Client:
        await self.backend.open()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.backend.close()

    def records(self, namespace: str) -> Records:
        """JSON records by key in `namespace`, kept between jobs (with a ttl or
        until deleted): what code built on chronoq remembers, e.g. a URL's ETag."""
        return Records(self.backend.redis, self.backend.keys, namespace)

    # -- enqueue -----------------------------------------------------------

    async def enqueue(self, task: TaskRef, *args: Any, **kwargs: Any) -> EnqueuedJob:
        """Enqueue `task(*args, **kwargs)` now, with the task's default options.

        For options (queue, delay, at, priority, unique_key, ...) use `submit`.
        """
        if isinstance(task, str):
            return await self.submit(JobRequest(task, args, kwargs))
        return await self._enqueue_one(*self._build_call(task, args, kwargs))

    async def submit(self, request: JobRequest) -> EnqueuedJob:
        """Enqueue one job with explicit options."""
        await self.learn(self.unlearned((request,)))
        return await self._enqueue_one(*self._build(request))

    async def _enqueue_one(self, spec: JobSpec, placement: Placement) -> EnqueuedJob:
        """enqueue_many of one built job, without its batching."""
        (result,) = await self.broker.enqueue(spec.queue, [(spec, placement)])
        items = [(0, spec, placement)]
        await fire(self.hooks, enqueued_events(self.hooks, spec.queue, items, [result]))
        return EnqueuedJob(result.id, spec.queue, result.status, result.created)

    async def enqueue_many(self, requests: Iterable[JobRequest]) -> list[EnqueuedJob]:
        """Enqueue many jobs: one round trip per queue (per 1,000 jobs).

        Every request is validated and serialized before anything is written. A task
        named by a string that this client's app does not define is enqueued with the
        definition its workers published (queue, options, key templates), its
        arguments checked against the published signature; a name nobody registered
        raises UnknownTask unless the request says `force=True`.
        """
        requests = list(requests)
        await self.learn(self.unlearned(requests))
        by_queue, count = self._plan(requests)
        out: list[EnqueuedJob | None] = [None] * count
        for queue, items in by_queue.items():
            results = await self.broker.enqueue(queue, [(s, p) for _, s, p in items])
            place_results(out, queue, items, results)
            await fire(self.hooks, enqueued_events(self.hooks, queue, items, results))
        return [job for job in out if job is not None]

    def _plan(self, requests: Iterable[JobRequest]) -> tuple[Batches, int]:
        """Validate and serialize every request, grouped by queue (no I/O)."""
        by_queue: Batches = defaultdict(list)
        count = 0
        for index, request in enumerate(requests):
            spec, placement = self._build(request)
            by_queue[spec.queue].append((index, spec, placement))
            count = index + 1
        return by_queue, count

    def unlearned(self, requests: Sequence[JobRequest]) -> set[str]:
        """Names these requests give that neither the app nor a fresh cached
        definition knows (no I/O)."""
        now = time.monotonic()
        names = set()
        for request in requests:
            ref = request.task
            if isinstance(ref, str) and ref and self.registry.find(ref) is None:
                cached = self._published.get(ref)
                if cached is None or now - cached[1] > PUBLISHED_TTL:
                    names.add(ref)
        return names

    async def learn(self, names: set[str]) -> None:
        """Read the published definitions of `names` (one round trip)."""
        if not names:
            return
        found = await self.backend.registry.definitions(sorted(names))
        now = time.monotonic()
        for name, definition in found.items():
            previous = self._published.get(name)
            if previous is None or previous[0].version != definition.version:
                self._options_cache.pop(name, None)
            self._published[name] = (definition, now)

    def _build_call(
        self, ref: TaskRef, args: Sequence[Any], kwargs: dict[str, Any]
    ) -> tuple[JobSpec, Placement]:
        """_build(JobRequest(ref, args, kwargs)) without making the request when `ref` is
        an app task without key templates: the commonest enqueue, and a request (a
        frozen 22-field dataclass) costs a tenth of a single enqueue's client CPU."""
        task = getattr(ref, "definition", ref)
        if not isinstance(task, TaskDef) or task.defaults.has_keys:
            return self._build(JobRequest(ref, args, kwargs))
        queue = task.defaults.queue
        payload = serialization.encode_call(args, kwargs)
        serialization.check_size(payload, "job arguments", self.settings.max_payload_bytes)
        options = self._default_options(task.name, task)
        return JobSpec(new_job_id(queue), task.name, queue, payload, options), NOW

    def _build(self, request: JobRequest) -> tuple[JobSpec, Placement]:
        name, task = self._resolve(request.task, force=request.force)
        if task is not None and isinstance(request.task, str):
            bind_call(task, request.args, request.kwargs)  # a bad call fails here, not later
        defaults = task.defaults if task else None
        keys = keys_of(request, task)
        if has_job_options(request) or keys.gates or keys.limits or keys.account is not None:
            options = JobOptions(
                max_retries=first(request.max_retries, defaults.max_retries if defaults else None),
                backoff=request.backoff,
                timeout=request.timeout,
                deadline=request.deadline,
                unique_key=request.unique_key,
                priority=first(request.priority, defaults.priority if defaults else None) or 0,
                idempotency_key=request.idempotency_key,
                idempotency_ttl=self._idempotency_ttl(request.idempotency_ttl),
                gates=keys.gates,
                account=keys.account,
                limits=keys.limits,
                retry_delays=None if request.retry_delays is None else tuple(request.retry_delays),
                schedule=request.schedule,
                schedule_due_ms=to_millis(request.schedule_due) if request.schedule_due else None,
                workflow=request.workflow,
            )
        else:
            options = self._default_options(name, task)
        queue = request.queue or (defaults.queue if defaults else DEFAULT_QUEUE)
        payload = serialization.encode_call(request.args, request.kwargs)
        serialization.check_size(payload, "job arguments", self.settings.max_payload_bytes)
        spec = JobSpec(new_job_id(queue), name, queue, payload, options)
        placement = (
            NOW
            if request.delay is None and request.at is None
            else placement_of(request.delay, request.at)
        )
        return spec, placement

    def _idempotency_ttl(self, requested: float | None) -> float:
        """An idempotency key must not outlive the job record it points to."""
        ttl = DEFAULT_IDEMPOTENCY_TTL if requested is None else requested
        return min(ttl, self.settings.retention)

    def _default_options(self, name: str, task: TaskLike | None) -> JobOptions:
        """Options of a job that sets none: cached per task, since bulk enqueues repeat them."""
        options = self._options_cache.get(name)
        if options is None:
            defaults = task.defaults if task else None
            options = JobOptions(
                max_retries=defaults.max_retries if defaults else None,
                priority=defaults.priority if defaults else 0,
            )
            self._options_cache[name] = options
        return options

    def _resolve(self, ref: TaskRef, *, force: bool = False) -> tuple[str, TaskLike | None]:
        definition = getattr(ref, "definition", ref)  # an @app.task wrapper carries its def
        if isinstance(definition, TaskDef):
            return definition.name, definition
        if isinstance(ref, str):
            if not ref:
                raise ConfigurationError("task name must not be empty")
            local = self.registry.find(ref)
            if local is not None:
                return ref, local
            published = self._published.get(ref)
            if published is not None:
                return ref, published[0]
            if not force:
                raise unknown_task(ref)
            return ref, None
        for task in self.registry:
            if task.func is ref:
                return task.name, task
        raise ConfigurationError(f"{ref!r} is not a task of this app; decorate it with @app.task")

    # -- read and act ------------------------------------------------------

    async def job(self, job_id: str) -> Job:
        return await self.inspector.get_job(job_id)

    async def result(self, job_id: str, *, timeout: float = 30.0, poll: float = 0.2) -> Any:
        """Wait for a job to finish and return its result; JobFailed if it did not succeed."""
        deadline = asyncio.get_running_loop().time() + timeout
        wait = 0.005
        while True:
            job = await self.job(job_id)
            if job.status is JobStatus.SUCCEEDED:
                return job.result
            if job.status.is_finished:
                raise JobFailed(job)
            if asyncio.get_running_loop().time() >= deadline:
                raise TimeoutError(f"job {job_id} still {job.status.value} after {timeout}s")
            await asyncio.sleep(wait)
            wait = min(poll, wait * 2)

    async def cancel(self, job_id: str) -> CancelReply:
        """Cancel a job: a waiting one ends `cancelled` at once ("cancelled"); a
        running one is stopped by its worker ("cancelling"): the task sees
        `current_job().cancelled`, and after the worker's cancel grace its run is
        cancelled outright; it then ends `cancelled`. InvalidJobState if finished."""
        queue = await self.inspector.find_queue(job_id)
        retention_ms = self.settings.retention_policy().age_ms(JobStatus.CANCELLED)
        if await self.broker.cancel(queue, job_id, retention_ms=retention_ms) is None:
            return "cancelling"  # its worker fires the hook when the run ends
        if self.hooks.wants(EventKind.CANCELLED):
            task = (await self.job(job_id)).task
            event = JobEvent(EventKind.CANCELLED, job_id, task, queue, outcome="cancelled")
            await fire(self.hooks, [event])
        return "cancelled"

    async def jobs(
        self, *, status: JobStatus | None = None, queue: str | None = None, limit: int = 50
    ) -> list[Job]:
        return await self.inspector.list_jobs(status=status, queue=queue, limit=limit)

    async def queues(self) -> list[QueueCounts]:
        return await self.inspector.queue_counts()

    async def dead_jobs(self, *, queue: str | None = None, limit: int = 50) -> list[Job]:
        return await self.inspector.list_jobs(status=JobStatus.DEAD, queue=queue, limit=limit)

    async def requeue_dead(
        self,
        *,
        queue: str | None = None,
        job_id: str | None = None,
        task: str | None = None,
        error_contains: str | None = None,
        since: datetime | timedelta | float | None = None,
    ) -> int:
        """Put dead jobs back on their queue: one (`job_id`), or every one matching
        all the filters given: of `task` (a name), with an error containing
        `error_contains` (ASCII case ignored), dead `since` an aware datetime or
        within a timedelta (or seconds) before now. Returns how many.

        Attempts are kept: a job dead after 4 attempts runs next as attempt 5, and
        gets its full `max_retries` again from there.
        """
        select = dead_selection(task, error_contains, since)

        async def action(name: str, one: str | None) -> int:
            return await self.broker.requeue_dead(name, one, select=select)

        return await self._each_queue(queue, job_id, action)

    async def requeue_dead_job(
        self,
        job_id: str,
        *,
        args: Sequence[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> bool:
        """Requeue one dead job, its arguments replaced when `args` or `kwargs` is
        given (the one not given keeps the job's own): an operator fixing the payload
        that killed it. The new call is checked against the task's signature (when
        this app or a worker knows the task) and the payload limit before anything is
        written. False when the job is not dead (InvalidJobState when editing one
        that is not)."""
        queue = await self.inspector.find_queue(job_id)
        payload = None
        if args is not None or kwargs is not None:
            job = await self.inspector.get_job(job_id, queue)
            if job.status is not JobStatus.DEAD:
                raise InvalidJobState(f"job {job_id} is {job.status.value}, not dead")
            new_args = list(job.args if args is None else args)
            new_kwargs = dict(job.kwargs if kwargs is None else kwargs)
            task = await self.definition(job.task)
            if task is not None:
                bind_call(task, new_args, new_kwargs)
            payload = serialization.encode_call(new_args, new_kwargs)
            serialization.check_size(payload, "job arguments", self.settings.max_payload_bytes)
        moved = await self.broker.requeue_dead(queue, job_id, payload=payload)
        return moved == 1

    async def definition(self, name: str) -> TaskLike | None:
        """The task `name` as this app defines it, else as its workers published it
        (read from the registry if not fresh), else None."""
        await self.learn(self.unlearned([JobRequest(name)]))
        found = self.registry.find(name)
        if found is not None:
            return found
        published = self._published.get(name)
        return published[0] if published else None

    async def purge_dead(self, *, queue: str | None = None, job_id: str | None = None) -> int:
        return await self._each_queue(queue, job_id, self.broker.purge_dead)

    async def retry(self, job_id: str) -> JobStatus:
        """Run a finished job (succeeded, cancelled, expired, skipped or dead) again:
        the same job id, its history kept, its retries renewed, a past deadline
        dropped. Returns the status it had. InvalidJobState for a job still waiting
        or running; JobNotFound."""
        queue = await self.inspector.find_queue(job_id)
        return await self.backend.finished.retry(queue, job_id)

    async def delete(self, job_id: str) -> JobStatus:
        """Delete a finished job for good (record, result, index entries, at once).
        Returns the status it had. InvalidJobState for a job still waiting or running
        (cancel it first); JobNotFound."""
        queue = await self.inspector.find_queue(job_id)
        return await self.backend.finished.delete(queue, job_id)

    async def _each_queue(
        self,
        queue: str | None,
        job_id: str | None,
        action: Callable[[str, str | None], Coroutine[Any, Any, int]],
    ) -> int:
        if job_id is not None:
            return await action(await self.inspector.find_queue(job_id, queue), job_id)
        names = [queue] if queue else await self.inspector.queues()
        return sum([await action(name, None) for name in names])

    async def workers(self) -> list[dict[str, str]]:
        return await self.inspector.workers()
