"""Schedules: each with its next runs, last run, and the actions: pause (with a
reason, kept in the audit log), resume, run now."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from chronoq.core.errors import ConfigurationError
from chronoq.manage import Schedules
from chronoq.web.auth import Operator, Reader, audit, base_of, state_of
from chronoq.web.render import page

router = APIRouter()
NEXT_RUNS = 3


async def _schedules(request: Request) -> Schedules:
    state = state_of(request)
    return Schedules(await state.client(), state.app.timezone)  # the shared client: no close


@router.get("/schedules")
async def schedules(request: Request, who: Reader) -> Response:
    manager = await _schedules(request)
    rows = []
    for info in await manager.list():
        runs = [] if info.definition.paused else await manager.next_runs(info.definition.name,
                                                                          NEXT_RUNS)  # fmt: skip
        rows.append({"info": info, "d": info.definition, "next_runs": runs})
    return page(request, "schedules.html", view="schedules", rows=rows)


def _back(request: Request, name: str) -> Response:
    return RedirectResponse(f"{base_of(request)}/schedules#schedule-{name}", status_code=303)


@router.post("/schedules/{name}/pause")
async def pause(
    request: Request,
    *,
    name: str,
    reason: str = Form(""),
    who: Operator,
) -> Response:
    if not reason.strip():
        raise ConfigurationError("say why the schedule is paused (the reason is kept)")
    await (await _schedules(request)).pause(name)
    await audit(request, who, "schedules.pause", target=name, count=1,
                detail={"reason": reason.strip()})  # fmt: skip
    return _back(request, name)


@router.post("/schedules/{name}/resume")
async def resume(request: Request, name: str, who: Operator) -> Response:
    await (await _schedules(request)).resume(name)
    await audit(request, who, "schedules.resume", target=name, count=1)
    return _back(request, name)


@router.post("/schedules/{name}/trigger")
async def trigger(request: Request, name: str, who: Operator) -> Response:
    job = await (await _schedules(request)).trigger(name)
    await audit(request, who, "schedules.trigger", target=name, count=1,
                detail={"job": job.id})  # fmt: skip
    return RedirectResponse(f"{base_of(request)}/jobs/{job.id}", status_code=303)
