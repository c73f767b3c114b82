"""One job: its arguments (through the redaction hook), result, every attempt with
its traceback, the timeline, the schedule, workflow or campaign that made it, a
"copy as CLI" line, and
the actions its state allows (retry a dead job, cancel a waiting or running one,
mark a dead one handled). Live: re-rendered when an event names it."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from chronoq.observe.failures import FailureGroups
from chronoq.observe.jobs import job_history
from chronoq.web.auth import Operator, Reader, audit, base_of, state_of
from chronoq.web.live import Fragments, Tick, live_view
from chronoq.web.render import cli_line, page, render_fragment
from chronoq.web.state import DashboardState

router = APIRouter()
# A campaign run's workflow is named "campaign <name> run <n>" (chronoq.campaigns.chain).
_CAMPAIGN_RUN = re.compile(r"^campaign ([0-9a-z][0-9a-z_-]*) run ([0-9]+)$")


async def made_by(state: DashboardState, marker: str | None) -> dict[str, Any] | None:
    """The workflow a step's job belongs to (its id, step, name) and, for a
    campaign run's, the campaign and run."""
    if not marker:
        return None
    wf_id, _, node = marker.partition("/")
    (fields,) = await (await state.backend()).workflows.records([wf_id])
    name = (fields or {}).get("name", "")
    run = _CAMPAIGN_RUN.match(name)
    campaign, number = run.groups() if run else (None, None)
    return {"id": wf_id, "node": node, "name": name, "campaign": campaign, "run": number}


async def detail(state: DashboardState, job_id: str) -> dict[str, Any]:
    backend = await state.backend()
    history = await job_history(backend.inspector, job_id)
    job = history.job
    args, kwargs = state.redact(job.task, list(job.args), dict(job.kwargs))
    return {
        "job": job,
        "timeline": history.timeline,
        "attempts": history.attempts,
        "args": args,
        "kwargs": kwargs,
        "cli": cli_line(job.task, args, kwargs, job.queue),
        "workflow": await made_by(state, job.workflow),
    }


@router.get("/jobs/{job_id}")
async def job_page(request: Request, job_id: str, who: Reader) -> Response:
    model = await detail(state_of(request), job_id)
    return page(request, "job.html", view="jobs", live=f"job:{job_id}", **model)


@live_view("job")
async def live_job(state: DashboardState, tick: Tick, job_id: str) -> Fragments | None:
    if tick.seen and not any(e.job == job_id for e in tick.events):
        return None  # nothing happened to it since its tabs got it
    model = await detail(state, job_id)
    return {"job-state": render_fragment(state.base, "_job_state.html", **model)}


def _back(request: Request, job_id: str, flash: str) -> Response:
    del flash
    return RedirectResponse(f"{base_of(request)}/jobs/{job_id}", status_code=303)


@router.post("/jobs/{job_id}/retry")
async def retry(request: Request, job_id: str, who: Operator) -> Response:
    """Put a dead job back on its queue (its attempts are kept)."""
    client = await state_of(request).client()
    moved = await client.requeue_dead(job_id=job_id)
    await audit(request, who, "jobs.retry", target=job_id, count=moved)
    return _back(request, job_id, "requeued" if moved else "not dead any more")


@router.post("/jobs/{job_id}/cancel")
async def cancel(request: Request, job_id: str, who: Operator) -> Response:
    client = await state_of(request).client()
    outcome = await client.cancel(job_id)
    await audit(request, who, "jobs.cancel", target=job_id, count=1, detail={"outcome": outcome})
    return _back(request, job_id, outcome)


@router.post("/jobs/{job_id}/resolve")
async def resolve(
    request: Request,
    *,
    job_id: str,
    note: str = Form(""),
    who: Operator,
) -> Response:
    """Mark a dead job handled (it stays in the dead-letter queue, marked)."""
    backend = await state_of(request).backend()
    await FailureGroups(backend).resolve_job(job_id, note)
    await audit(request, who, "jobs.resolve", target=job_id, count=1, detail={"note": note})
    return _back(request, job_id, "resolved")
