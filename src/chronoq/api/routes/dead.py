"""Dead letters: list and search, failure groups, requeue one (its payload
optionally edited), resolve a job or a group, purge one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from chronoq.api.audit import audit, audited
from chronoq.api.auth import Admin, Operator, Principal, Reader
from chronoq.api.models import Body, Done, JobPageOut
from chronoq.api.problems import ProblemError
from chronoq.api.routes.jobs import FilterText, Limit, Text, search, search_filter
from chronoq.api.state import client
from chronoq.client import Client
from chronoq.core.errors import ConfigurationError, InvalidJobState
from chronoq.core.job import JobStatus
from chronoq.observe.failures import FailureGroups, check_fingerprint

router = APIRouter(prefix="/v1/dead", tags=["dead letters"])
ClientDep = Annotated[Client, Depends(client)]
JobId = Annotated[str, Path(min_length=1, max_length=200)]
Fingerprint = Annotated[str, Path(min_length=1, max_length=64, description="16 hex digits")]


@router.get("", summary="Dead jobs", response_model=JobPageOut)
async def list_dead(
    c: ClientDep,
    _: Principal = Reader,
    task: Text = None,
    queue: Text = None,
    account: Text = None,
    since: Annotated[str | None, Query(description="Dead at or after: 30m, 2h, ISO 8601")] = None,
    until: str | None = None,
    error_contains: Text = None,
    error_group: Annotated[str | None, Query(max_length=64)] = None,
    filter_text: FilterText = None,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
    limit: Limit = 50,
) -> JobPageOut:
    """Newest first, in pages; every filter given (and `filter`, the shared grammar)
    must hold."""
    if error_group is not None:
        _fingerprint(error_group, "query.error_group")
    where = search_filter(task=task, status=JobStatus.DEAD, queue=queue, account=account,
                          since=since, until=until, error_contains=error_contains,
                          error_group=error_group, text=filter_text)  # fmt: skip
    return await search(c, where, limit, cursor)


def _fingerprint(text: str, field: str) -> str:
    try:
        return check_fingerprint(text)
    except ConfigurationError as exc:
        raise ProblemError(422, str(exc), field=field) from None


@router.get("/groups", summary="Failure groups")
async def groups(
    c: ClientDep,
    _: Principal = Reader,
    queue: Text = None,
    task: Text = None,
    include_resolved: bool = True,
) -> list[Any]:
    """By fingerprint (task, exception type, masked message), the latest first."""
    found = await FailureGroups(c.backend).list(
        queue=queue, task=task, include_resolved=include_resolved
    )
    return [g.to_dict() for g in found]


class RequeueBody(Body):
    """The job's new arguments; the one not given stays as it was."""

    args: list[Any] | None = None
    kwargs: dict[str, Any] | None = None


class NoteBody(Body):
    note: str = ""


@router.post(
    "/{job_id}/requeue",
    summary="Requeue a dead job",
    response_model=Done,
    openapi_extra=audited("dead.requeue"),
)
async def requeue(
    job_id: JobId, c: ClientDep, body: RequeueBody | None = None, who: Principal = Operator
) -> Done:
    """Back on its queue, its attempts kept; with `args`/`kwargs`, its payload
    replaced first (checked against the task's signature). 409 if not dead."""
    edit = body or RequeueBody()
    if not await c.requeue_dead_job(job_id, args=edit.args, kwargs=edit.kwargs):
        raise InvalidJobState(f"job {job_id} is not in the dead-letter queue")
    edited = edit.args is not None or edit.kwargs is not None
    await audit(c.backend, who, "dead.requeue", job_id, edited=edited)
    return Done(id=job_id, status="queued")


@router.post(
    "/{job_id}/resolve",
    summary="Mark a dead job handled",
    response_model=Done,
    openapi_extra=audited("dead.resolve"),
)
async def resolve_job(
    job_id: JobId, c: ClientDep, body: NoteBody | None = None, who: Principal = Operator
) -> Done:
    note = (body or NoteBody()).note
    await FailureGroups(c.backend).resolve_job(job_id, note)
    await audit(c.backend, who, "dead.resolve", job_id, note=note)
    return Done(id=job_id, status="resolved")


@router.post(
    "/groups/{fingerprint}/resolve",
    summary="Mark a failure group handled",
    openapi_extra=audited("dead.resolve_group"),
)
async def resolve_group(
    fingerprint: Fingerprint, c: ClientDep, body: NoteBody | None = None, who: Principal = Operator
) -> Done:
    """Until it fails again (that reopens it)."""
    note = (body or NoteBody()).note
    _fingerprint(fingerprint, "path.fingerprint")
    queues = await FailureGroups(c.backend).resolve_group(fingerprint, note)
    await audit(c.backend, who, "dead.resolve_group", fingerprint, count=queues, note=note)
    return Done(id=fingerprint, status="resolved")


@router.delete(
    "/{job_id}",
    summary="Purge a dead job",
    response_model=Done,
    openapi_extra=audited("dead.purge"),
)
async def purge(job_id: JobId, c: ClientDep, who: Principal = Admin) -> Done:
    if not await c.purge_dead(job_id=job_id):
        raise InvalidJobState(f"job {job_id} is not in the dead-letter queue")
    await audit(c.backend, who, "dead.purge", job_id)
    return Done(id=job_id, status="purged")
