"""Dead letters: the dead-letter queue searched like the jobs view; requeue or mark
handled one job, edit a job's payload and requeue it; requeue, resolve (mark
handled, with a note) or, admin, purge every job matching the filters, after a
dry run shows how many and the operator types the queue's name (or `all`) to
confirm: a bulk operation (`chronoq.bulk`) the server runs, whose progress its
page shows (`routes/operations.py`)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from chronoq.bulk import Operations
from chronoq.core.access import Role
from chronoq.core.errors import ConfigurationError
from chronoq.core.ids import new_token
from chronoq.core.job import JobStatus
from chronoq.core.operations import Edits
from chronoq.observe.search import JobFilter, JobSearch, parse_moment
from chronoq.web.auth import (
    Forbidden,
    Operator,
    Reader,
    Viewer,
    audit,
    base_of,
    state_of,
)
from chronoq.web.render import page
from chronoq.web.routes.jobs import Query
from chronoq.web.state import REDACTED

router = APIRouter()
FILTERS = ("queue", "task", "error", "since")
ACTIONS = ("requeue", "resolve", "purge")


def dead_filter(values: dict[str, str]) -> JobFilter:
    return JobFilter(
        status=JobStatus.DEAD,
        queue=values.get("queue") or None,
        task=values.get("task") or None,
        error_contains=values.get("error") or None,
        since=parse_moment(values["since"], "since") if values.get("since") else None,
    )


def confirm_word(values: dict[str, str]) -> str:
    """What the operator types to confirm a bulk action: the queue's name, or `all`."""
    return values.get("queue") or "all"


@router.get("/dead")
async def dead(request: Request, who: Reader, cursor: str = "") -> Response:
    backend = await state_of(request).backend()
    query = Query.of(request)
    where = dead_filter(query.values)
    found = await JobSearch(backend).search(where, limit=50, cursor=cursor or None)
    return page(request, "dead.html", view="dead", jobs=found.jobs, query=query.values,
                queues=await backend.inspector.queues(),
                next_link=query.link(cursor=found.next_cursor) if found.next_cursor else "",
                filter_link=query.link())  # fmt: skip


@router.get("/dead/bulk")
async def bulk_preview(request: Request, action: str, who: Reader) -> Response:
    """The dry run: how many dead jobs the action would touch now, and the typed
    confirmation it needs. The form carries an idempotency key: sent twice (a
    double click, a resubmitted page), it makes one operation."""
    _check_action(action, who)
    backend = await state_of(request).backend()
    values = {k: request.query_params.get(k, "").strip() for k in FILTERS}
    count, more = await JobSearch(backend).count(dead_filter(values))
    return page(request, "dead_bulk.html", view="dead", action=action, values=values,
                count=count, more=more, word=confirm_word(values),
                key=new_token())  # fmt: skip


def _check_action(action: str, who: Viewer) -> None:
    if action not in ACTIONS:
        raise ConfigurationError(f"unknown bulk action {action!r}: {', '.join(ACTIONS)}")
    if action == "purge" and not who.can(Role.ADMIN):
        raise Forbidden("purging dead jobs needs the admin role")


@router.post("/dead/bulk")
async def bulk(
    request: Request,
    *,
    action: str = Form(...),
    confirm: str = Form(""),
    dry_run: str = Form(""),
    key: str = Form(""),
    queue: str = Form(""),
    task: str = Form(""),
    error: str = Form(""),
    since: str = Form(""),
    note: str = Form(""),
    who: Operator,
) -> Response:
    """A bulk operation over the jobs the filter matches now (a frozen set), run by
        the server's operation runner; its page shows the progress live. A resolve
    carries the operator's note (each job marked handled with it). A dry run
        counts what it would do and changes nothing (no confirmation needed). The
        library audits the operation (created, cancelled, done) with the viewer's name."""
    _check_action(action, who)
    values = {"queue": queue, "task": task, "error": error, "since": since}
    wet = not dry_run
    if wet and confirm.strip() != confirm_word(values):
        raise ConfigurationError(
            f"not confirmed: type {confirm_word(values)!r} to {action} these dead jobs"
        )
    ops = Operations(await state_of(request).client())  # the shared client: no close
    once = (key if wet else f"{key}:dry") if key else None  # a dry run is another request
    edits = Edits(note=note.strip()) if action == "resolve" else None
    op = await ops.create(action, dead_filter(values), edits=edits, actor=who.name,
                          dry_run=not wet, idempotency_key=once)  # fmt: skip
    return RedirectResponse(f"{base_of(request)}/operations/{op.id}", status_code=303)


@router.post("/dead/{job_id}/requeue")
async def requeue(request: Request, job_id: str, who: Operator) -> Response:
    client = await state_of(request).client()
    moved = await client.requeue_dead(job_id=job_id)
    await audit(request, who, "jobs.retry", target=job_id, count=moved)
    return RedirectResponse(f"{base_of(request)}/dead", status_code=303)


@router.get("/dead/{job_id}/edit")
async def edit_page(request: Request, job_id: str, who: Reader) -> Response:
    state = state_of(request)
    job = await (await state.backend()).inspector.get_job(job_id)
    args, kwargs = state.redact(job.task, list(job.args), dict(job.kwargs))
    return page(request, "dead_edit.html", view="dead", job=job,
                payload=json.dumps({"args": args, "kwargs": kwargs}, indent=2),
                redacted=REDACTED)  # fmt: skip


@router.post("/dead/{job_id}/edit")
async def edit(
    request: Request,
    *,
    job_id: str,
    payload: str = Form(...),
    who: Operator,
) -> Response:
    """Requeue with the payload as edited; values left `[redacted]` keep the job's."""
    client = await state_of(request).client()
    job = await client.inspector.get_job(job_id)
    args, kwargs = _edited(payload, job.kwargs)
    moved = await client.requeue_dead_job(job_id, args=args, kwargs=kwargs)
    await audit(request, who, "dead.requeue_edited", target=job_id, count=int(moved))
    return RedirectResponse(f"{base_of(request)}/jobs/{job_id}", status_code=303)


def _edited(text: str, original: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(f"the payload is not JSON: {exc}") from None
    if not isinstance(data, dict) or set(data) - {"args", "kwargs"}:
        raise ConfigurationError('the payload is {"args": [...], "kwargs": {...}}')
    args, kwargs = data.get("args", []), data.get("kwargs", {})
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise ConfigurationError("args must be a list and kwargs an object")
    restored = {k: original[k] if v == REDACTED and k in original else v
                for k, v in kwargs.items()}  # fmt: skip
    return args, restored
