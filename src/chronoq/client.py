"""The client: enqueue jobs and read their state. Async first, with a sync facade."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from chronoq.core import serialization
from chronoq.core.claims import NOW, DeadSelection, Enqueued, Placement
from chronoq.core.errors import ChronoqError, ConfigurationError, InvalidJobState
from chronoq.core.events import EventKind, HookRegistry, JobEvent
from chronoq.core.ids import new_job_id
from chronoq.core.job import (
    Gate,
    Job,
    JobOptions,
    JobSpec,
    JobStatus,
    LimitRef,
    require_aware,
    to_millis,
)
from chronoq.core.registry import PublishedTask, unknown_task
from chronoq.core.retry import Backoff
from chronoq.core.settings import Settings
from chronoq.core.task import (
    DEFAULT_QUEUE,
    NO_KEYS,
    JobKeys,
    TaskDef,
    TaskLike,
    TaskRegistry,
    bind_call,
    job_keys,
)
from chronoq.loop_thread import LoopThread
from chronoq.redis.backend import Backend
from chronoq.redis.connector import Connector
from chronoq.redis.inspector import QueueCounts
from chronoq.redis.records import Records
from chronoq.redis.sync_enqueue import SyncEnqueuer

TaskRef = str | TaskDef | Callable[..., Any]
DEFAULT_IDEMPOTENCY_TTL = 86400.0
PUBLISHED_TTL = 5.0  # seconds a client trusts a published definition before reading it again
Batches = dict[str, list[tuple[int, JobSpec, Placement]]]
T = TypeVar("T")
log = logging.getLogger("chronoq.client")


CancelReply = Literal["cancelled", "cancelling"]


class JobFailed(ChronoqError):
    """The awaited job ended without a result (dead, cancelled or expired)."""

    def __init__(self, job: Job) -> None:
        super().__init__(f"job {job.id} ended {job.status.value}: {job.error or 'no error'}")
        self.job = job


@dataclass(frozen=True, slots=True)
class JobRequest:
    """One job to enqueue. Options left as None take the task's defaults."""

    task: TaskRef
    args: Sequence[Any] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None
    priority: int | None = None
    delay: float | timedelta | None = None
    at: datetime | None = None
    unique_key: str | None = None
    max_retries: int | None = None
    timeout: float | None = None
    deadline: datetime | None = None
    backoff: Backoff | None = None
    idempotency_key: str | None = None  # dedupe for idempotency_ttl, whatever the outcome
    idempotency_ttl: float | None = None  # seconds; default 1 day, at most the retention
    gates: Sequence[Gate] | None = None  # default: from the task's lock/concurrency templates
    account: str | None = None  # default: from the task's account template
    limits: Sequence[LimitRef] | None = None  # default: from the task's rate_limit/quota
    retry_delays: Sequence[float] | None = None  # seconds before each retry (last repeats)
    force: bool = False  # enqueue a name neither the app nor any worker has registered
    schedule: str | None = None  # recorded on the job: the schedule that made it
    schedule_due: datetime | None = None  # recorded on the job: that run's due time
    workflow: str | None = None  # recorded on the job: "<workflow id>/<node>" (chronoq.workflows)


@dataclass(frozen=True, slots=True)
class EnqueuedJob:
    id: str
    queue: str
    status: JobStatus
    created: bool  # False when the unique key returned an existing job

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "queue": self.queue, "status": self.status.value,
                "created": self.created}  # fmt: skip


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
        self.settings = settings or Settings(redis_url=redis_url, prefix=prefix)
        self.registry = registry if registry is not None else TaskRegistry()  # empty is falsy
        self.hooks = hooks or HookRegistry()  # "enqueued" and "cancelled" fire here
        self.url = redis_url
        self.backend = Backend(
            connector or Connector.from_settings(self.settings, redis_url),
            prefix,
            replica_acks=self.settings.replica_acks,
            replica_ack_timeout=self.settings.replica_ack_timeout,
            events_cap=self.settings.events_cap,
        )
        self.broker = self.backend.broker
        self.inspector = self.backend.inspector
        self._options_cache: dict[str, JobOptions] = {}
        self._published: dict[str, tuple[PublishedTask, float]] = {}  # name -> (def, read at)

    async def __aenter__(self) -> Client:
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
        await fire(self.hooks, _enqueued_events(self.hooks, spec.queue, items, [result]))
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
            _place_results(out, queue, items, results)
            await fire(self.hooks, _enqueued_events(self.hooks, queue, items, results))
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
        keys = _keys_of(request, task)
        if _has_job_options(request) or keys.gates or keys.limits or keys.account is not None:
            options = JobOptions(
                max_retries=_first(request.max_retries, defaults.max_retries if defaults else None),
                backoff=request.backoff,
                timeout=request.timeout,
                deadline=request.deadline,
                unique_key=request.unique_key,
                priority=_first(request.priority, defaults.priority if defaults else None) or 0,
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
            else _placement(request.delay, request.at)
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


def dead_selection(
    task: str | None, error_contains: str | None, since: datetime | timedelta | float | None
) -> DeadSelection:
    """The filters of a dead-letter requeue, checked."""
    since_ms = within_ms = None
    if isinstance(since, datetime):
        require_aware(since, "since")
        since_ms = to_millis(since)
    elif since is not None:
        seconds = since.total_seconds() if isinstance(since, timedelta) else float(since)
        if not 0 <= seconds < 1e12:
            raise ConfigurationError(f"since must be a duration >= 0, got {since!r}")
        within_ms = int(seconds * 1000)
    return DeadSelection(task or "", error_contains or "", since_ms, within_ms)


def _keys_of(request: JobRequest, task: TaskLike | None) -> JobKeys:
    """Gates and account: given on the request, else built from the task's templates."""
    derived = job_keys(task, request.args, request.kwargs) if task else NO_KEYS
    if request.gates is None and request.account is None and request.limits is None:
        return derived
    gates = tuple(request.gates) if request.gates is not None else derived.gates
    account = request.account if request.account is not None else derived.account
    limits = tuple(request.limits) if request.limits is not None else derived.limits
    return JobKeys(gates, account, limits)


def _first(value: T | None, default: T | None) -> T | None:
    return value if value is not None else default


def _place_results(
    out: list[EnqueuedJob | None],
    queue: str,
    items: list[tuple[int, JobSpec, Placement]],
    results: list[Enqueued],
) -> None:
    for (index, _, _), res in zip(items, results, strict=True):
        out[index] = EnqueuedJob(res.id, queue, res.status, res.created)


def _enqueued_events(
    hooks: HookRegistry,
    queue: str,
    items: list[tuple[int, JobSpec, Placement]],
    results: list[Enqueued],
) -> list[JobEvent]:
    """An "enqueued" event per job created (not per deduplicated request)."""
    if not hooks.wants(EventKind.ENQUEUED):
        return []
    return [
        JobEvent(EventKind.ENQUEUED, res.id, spec.task, queue, outcome=res.status.value)
        for (_, spec, _), res in zip(items, results, strict=True)
        if res.created
    ]


async def fire(hooks: HookRegistry, events: Iterable[JobEvent]) -> None:
    """Run each event's hooks in this process, in order (the task's, then the app's):
    a sync hook is called here, an async one awaited; keep them quick, they delay the
    enqueue's return. A hook that raises is logged and changes nothing."""
    for event in events:
        for hook in hooks.chain(event.kind, event.task):
            try:
                result = hook(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                what = (event.kind.value, hook, event.job_id)
                log.exception("chronoq: %s hook %r failed for job %s", *what)


def _has_job_options(r: JobRequest) -> bool:
    return not (
        r.priority is None
        and r.unique_key is None
        and r.max_retries is None
        and r.timeout is None
        and r.deadline is None
        and r.backoff is None
        and r.idempotency_key is None
        and r.retry_delays is None
        and r.schedule is None
        and r.workflow is None
    )


def _placement(delay: float | timedelta | None, at: datetime | None) -> Placement:
    if delay is not None and at is not None:
        raise ConfigurationError("give either delay or at, not both")
    if isinstance(delay, timedelta):
        delay = delay.total_seconds()
    if delay is not None:
        if delay < 0:
            raise ConfigurationError(f"delay must be >= 0 seconds, got {delay}")
        return Placement(delay_ms=int(delay * 1000))
    if at is not None:
        require_aware(at, "at")
        return Placement(at_ms=to_millis(at))
    return NOW


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
            backend.connector, backend.keys, backend.durability, backend.events_cap
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
        events = _enqueued_events(hooks, spec.queue, [(0, spec, placement)], [result])
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
            _place_results(out, queue, items, results)
            events = _enqueued_events(hooks, queue, items, results)
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
