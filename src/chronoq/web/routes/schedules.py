"""Schedules: the list (next runs with daylight-saving changes marked, last run,
state and pause reason), one schedule's page (its next runs, its run history, the
edit form), the 7-day calendar of upcoming runs, and the actions: pause with a
reason and resume (both kept by the library with the viewer's name, in the
schedule and its history), run now."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from chronoq.core.errors import ConfigurationError
from chronoq.manage import Schedules
from chronoq.web.auth import Operator, Reader, audit, base_of, state_of
from chronoq.web.render import back, page

router = APIRouter()
NEXT_RUNS = 3  # in the list
PLANNED = 10  # on a schedule's page
HISTORY = 50
CALENDAR_DAYS = 7


async def manager(request: Request) -> Schedules:
    state = state_of(request)
    return Schedules(await state.client(), state.app.timezone)  # the shared client: no close


@router.get("/schedules")
async def schedules(request: Request, who: Reader) -> Response:
    s = await manager(request)
    rows = []
    for info in await s.list():
        d = info.definition
        runs = [] if d.paused else await s.planned(d.name, NEXT_RUNS)
        rows.append({"info": info, "d": d, "next_runs": runs})
    return page(request, "schedules.html", view="schedules", rows=rows)


@router.get("/schedules/calendar")
async def calendar(request: Request, who: Reader, tz: str = "") -> Response:
    """Runs per local day per schedule for the next 7 days (in `tz`, default the
    app's zone)."""
    found = await (await manager(request)).calendar(CALENDAR_DAYS, tz=tz.strip() or None)
    names = sorted({name for day in found.days for name in day.runs})
    return page(request, "schedule_calendar.html", view="schedules", cal=found, names=names)


@router.get("/schedules/{name}")
async def schedule(request: Request, name: str, who: Reader) -> Response:
    s = await manager(request)
    info = await s.get(name)
    planned = [] if info.definition.paused else await s.planned(name, PLANNED)
    history = await s.history(name, HISTORY)
    return page(request, "schedule.html", view="schedules", info=info, d=info.definition,
                planned=planned, history=history)  # fmt: skip


@router.post("/schedules/{name}/pause")
async def pause(
    request: Request, *, name: str, reason: str = Form(""), where: str = Form(""), who: Operator
) -> Response:
    if not reason.strip():
        raise ConfigurationError("say why the schedule is paused (the reason is kept)")
    await (await manager(request)).pause(name, reason.strip(), by=who.name)
    await audit(request, who, "schedules.pause", target=name, count=1,
                detail={"reason": reason.strip()})  # fmt: skip
    return back(request, _after(name, where))


@router.post("/schedules/{name}/resume")
async def resume(
    request: Request, *, name: str, reason: str = Form(""), where: str = Form(""), who: Operator
) -> Response:
    await (await manager(request)).resume(name, reason.strip() or None, by=who.name)
    await audit(request, who, "schedules.resume", target=name, count=1)
    return back(request, _after(name, where))


@router.post("/schedules/{name}/trigger")
async def trigger(request: Request, name: str, who: Operator) -> Response:
    job = await (await manager(request)).trigger(name, by=who.name)
    await audit(request, who, "schedules.trigger", target=name, count=1,
                detail={"job": job.id})  # fmt: skip
    return RedirectResponse(f"{base_of(request)}/jobs/{job.id}", status_code=303)


def _after(name: str, where: str) -> str:
    """Back to the page the action came from: the schedule's own, or the list."""
    return f"/schedules/{name}" if where == "detail" else f"/schedules#schedule-{name}"
