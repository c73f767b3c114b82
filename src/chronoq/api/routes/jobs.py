"""Jobs: enqueue by task name, list with the history filters, read one with every
attempt, cancel, retry and delete (a finished job: `Client.retry`, `Client.delete`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import AwareDatetime, Field

from chronoq.api.audit import audit, audited
from chronoq.api.auth import Admin, Operator, Principal, Reader
from chronoq.api.etags import check_if_match, tagged
from chronoq.api.idempotency import IdempotencyKey, Made, idempotent
from chronoq.api.models import Body, Done, JobPageOut
from chronoq.api.problems import ProblemError
from chronoq.api.reads import field_error, readable
from chronoq.api.state import client
from chronoq.client import Client, JobRequest
from chronoq.core.errors import ConfigurationError, UnknownTask
from chronoq.core.job import JobStatus
from chronoq.observe.filters import parse_filter
from chronoq.observe.jobs import job_history
from chronoq.observe.search import PAGE_MAX, JobFilter, JobSearch, parse_moment

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
JobId = Annotated[str, Path(min_length=1, max_length=200, description="A job id.")]
ClientDep = Annotated[Client, Depends(client)]


class EnqueueBody(Body):
    """One job of a task, by name, checked against the task's registered signature."""

    task: str = Field(min_length=1, max_length=200, description="The task's registered name.")
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    queue: str | None = Field(None, description="Default: the task's queue.")
    priority: int | None = Field(None, ge=-(2**31), le=2**31)
    delay: float | None = Field(None, ge=0, le=366 * 86400, description="Run after this many s.")
    at: AwareDatetime | None = Field(None, description="Run at this time (with its offset).")
    unique_key: str | None = Field(None, min_length=1, max_length=512)
    max_retries: int | None = Field(None, ge=0, le=10_000)
    timeout: float | None = Field(None, gt=0, le=366 * 86400)
    deadline: AwareDatetime | None = None
    force: bool = Field(False, description="Enqueue a task no worker has registered yet.")


class EnqueuedOut(Body):
    id: str
    queue: str
    status: str
    created: bool = Field(description="False when the unique key returned an existing job.")


@router.post(
    "",
    status_code=201,
    summary="Enqueue a job",
    response_model=EnqueuedOut,
    openapi_extra=audited("jobs.enqueue"),
)
async def enqueue(
    body: EnqueueBody,
    request: Request,
    c: ClientDep,
    who: Principal = Operator,
    idempotency_key: str | None = IdempotencyKey,
) -> Response:
    """Enqueue one job with the task's own options (queue, retries, lock, quota, ...)
    as the app or its workers registered them. An unknown task is refused (422
    naming it) unless `force`."""
    if body.delay is not None and body.at is not None:
        raise ProblemError(422, "give either delay or at, not both", field="body.at")

    async def make() -> Made:
        request_ = JobRequest(
            body.task, body.args, body.kwargs, queue=body.queue, priority=body.priority,
            delay=body.delay, at=body.at, unique_key=body.unique_key,
            max_retries=body.max_retries, timeout=body.timeout, deadline=body.deadline,
            force=body.force,
        )  # fmt: skip
        try:
            job = await c.submit(request_)
        except UnknownTask as exc:
            raise field_error(exc, "body.task") from None
        except ConfigurationError as exc:
            raise ProblemError(422, str(exc)) from None
        await audit(c.backend, who, "jobs.enqueue", job.id, task=body.task, queue=job.queue)
        return 201, job.to_dict(), {"Location": f"/v1/jobs/{job.id}"}

    return await idempotent(request, who, idempotency_key, make)


def search_filter(
    *,
    task: str | None,
    status: JobStatus | None,
    queue: str | None,
    account: str | None,
    since: str | None,
    until: str | None,
    error_contains: str | None,
    error_group: str | None = None,
    text: str | None = None,
) -> JobFilter:
    """The history filters (query parameters, and `filter`: the shared grammar), each
    bad one a problem naming it."""
    given: dict[str, Any] = {"task": task, "status": status, "queue": queue,
                             "account": account, "error_contains": error_contains,
                             "error_group": error_group}  # fmt: skip
    for name, moment in (("since", since), ("until", until)):
        if moment is not None:
            try:
                given[name] = parse_moment(moment, name)
            except ConfigurationError as exc:
                raise field_error(exc, f"query.{name}") from None
    given = {k: v for k, v in given.items() if v is not None}
    if text is not None:
        try:
            return parse_filter(text, **given)
        except ConfigurationError as exc:
            raise field_error(exc, "query.filter") from None
    try:
        return JobFilter(**given)
    except ConfigurationError as exc:
        raise field_error(exc, "query.status") from None


async def search(c: Client, where: JobFilter, limit: int, cursor: str | None) -> JobPageOut:
    try:
        page = await readable(
            JobSearch(c.backend).search(where, limit=limit, cursor=cursor), "a job record"
        )
    except ConfigurationError as exc:
        raise field_error(exc, "query.cursor") from None
    return JobPageOut(**page.to_dict())


Text = Annotated[str | None, Query(min_length=1, max_length=500)]
Limit = Annotated[int, Query(ge=1, le=PAGE_MAX)]
FilterText = Annotated[
    str | None,
    Query(alias="filter", max_length=2000, description="The shared grammar: task:T -account:A"),
]


@router.get("", summary="List jobs", response_model=JobPageOut)
async def list_jobs(
    c: ClientDep,
    _: Principal = Reader,
    task: Text = None,
    status: JobStatus | None = None,
    queue: Text = None,
    account: Text = None,
    since: Annotated[str | None, Query(description="30m, 2h (ago) or ISO 8601 with offset")] = None,
    until: Annotated[str | None, Query(description="Finished before; as since")] = None,
    error_contains: Text = None,
    filter_text: FilterText = None,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
    limit: Limit = 50,
) -> JobPageOut:
    """Newest first. With task, account, since, until, error_contains, `filter` (the
    shared grammar: `task:send status:dead -account:acme since:2h error:"reset"`),
    a finished status or a cursor: a search of the finished and dead jobs' history, in pages
    (`next_cursor`). Otherwise (or for a waiting or running status): the jobs
    each queue holds now, one page."""
    searched = (task, account, since, until, error_contains, cursor, filter_text)
    searching = any(v is not None for v in searched)
    if status is not None and not status.is_finished:
        if searching:
            detail = f"the history filters cover finished jobs; list {status.value} jobs"
            raise ProblemError(422, detail + " with status (and queue) alone", field="query.status")
        found = await readable(c.jobs(status=status, queue=queue, limit=limit), "a job record")
        return JobPageOut(jobs=[j.to_dict() for j in found], examined=len(found))
    if not searching and status is None:
        found = await readable(c.jobs(queue=queue, limit=limit), "a job record")
        return JobPageOut(jobs=[j.to_dict() for j in found], examined=len(found))
    where = search_filter(task=task, status=status, queue=queue, account=account, since=since,
                          until=until, error_contains=error_contains,
                          text=filter_text)  # fmt: skip
    return await search(c, where, limit, cursor)


async def _history(c: Client, job_id: str) -> dict[str, Any]:
    found = await readable(job_history(c.inspector, job_id), f"job {job_id}")
    return found.to_dict()


@router.get("/{job_id}", summary="One job with every attempt")
async def get_job(job_id: JobId, response: Response, c: ClientDep, _: Principal = Reader) -> Any:
    """The job and its timeline (every attempt, retry, lost worker, requeue), with
    an ETag (send it as If-Match to DELETE only what you saw)."""
    return tagged(response, await _history(c, job_id))


@router.post(
    "/{job_id}/cancel",
    summary="Cancel a job",
    response_model=Done,
    openapi_extra=audited("jobs.cancel"),
)
async def cancel(job_id: JobId, c: ClientDep, who: Principal = Operator) -> Done:
    """A waiting job ends cancelled at once; a running one is stopped by its worker
    (`cancelling`). 409 for a finished job."""
    reply = await c.cancel(job_id)
    await audit(c.backend, who, "jobs.cancel", job_id, outcome=reply)
    return Done(id=job_id, status=reply)


class ActedOut(Done):
    """What a retry or delete did, and the status the job had."""

    previous: str = Field(description="The finished status the job had.")


@router.post(
    "/{job_id}/retry",
    summary="Run a finished job again",
    response_model=ActedOut,
    openapi_extra=audited("jobs.retry"),
)
async def retry(job_id: JobId, c: ClientDep, who: Principal = Operator) -> ActedOut:
    """A finished job (succeeded, cancelled, expired, skipped or dead) is queued again
    as its next attempt: the same id, its timeline kept (a `retried` mark), its
    retries renewed, a past deadline dropped. 409 for a job still waiting or running."""
    previous = await c.retry(job_id)
    await audit(c.backend, who, "jobs.retry", job_id, previous=previous.value)
    return ActedOut(id=job_id, status="queued", previous=previous.value)


@router.delete(
    "/{job_id}",
    summary="Delete a finished job",
    response_model=ActedOut,
    openapi_extra=audited("jobs.delete"),
)
async def delete(request: Request, job_id: JobId, c: ClientDep, who: Principal = Admin) -> ActedOut:
    """Delete a finished job for good: its record, result and index entries, at once
    (If-Match: only if unchanged since read). 409 for a job still waiting or running:
    cancel it first."""
    check_if_match(request, await _history(c, job_id))
    previous = await c.delete(job_id)
    await audit(c.backend, who, "jobs.delete", job_id, previous=previous.value)
    return ActedOut(id=job_id, status="deleted", previous=previous.value)
