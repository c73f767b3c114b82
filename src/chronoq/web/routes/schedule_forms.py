"""Making and changing schedules from the dashboard: the create and edit forms,
their spec check as the operator types (htmx asks `/schedules/validate`, which the
library answers: ok with the next runs and daylight-saving changes, or the field at
fault and why), and backfilling a past range (a dry run of the run times first,
then the schedule's name typed to confirm)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from chronoq.core.errors import ConfigurationError
from chronoq.core.job import require_aware
from chronoq.schedule.timeline import SpecCheck
from chronoq.web.auth import Operator, Reader, audit, base_of
from chronoq.web.render import page
from chronoq.web.routes.schedules import manager

router = APIRouter()
CHECK_RUNS = 5


@router.get("/schedules/new")
async def new(request: Request, who: Reader) -> Response:
    s = await manager(request)
    return page(request, "schedule_form.html", view="schedules", d=None,
                tz=s.timezone, check=None)  # fmt: skip


@router.get("/schedules/validate")
async def validate(request: Request, who: Reader, spec: str = "", tz: str = "") -> Response:
    """The spec check fragment the forms show under the spec field (nothing stored)."""
    check = await _check(request, spec, tz)
    return page(request, "_spec_check.html", check=check)


async def _check(request: Request, spec: str, tz: str) -> SpecCheck | None:
    if not spec.strip():
        return None
    return await (await manager(request)).validate(spec.strip(), tz.strip() or None,
                                                   count=CHECK_RUNS)  # fmt: skip


def _refuse(check: SpecCheck | None) -> None:
    """Nothing is written for a spec or zone that does not check out."""
    if check is None:
        raise ConfigurationError("spec: give a cron expression or @every interval")
    if not check.ok:
        where = f"{check.field} ({check.part})" if check.part else check.field
        raise ConfigurationError(f"{where}: {check.error}")


def _json(text: str, what: str, kind: type) -> Any:
    if not text.strip():
        return kind()
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(f"{what}: not JSON ({exc})") from None
    if not isinstance(value, kind):
        raise ConfigurationError(f"{what}: a JSON {'list' if kind is list else 'object'}")
    return value


@router.post("/schedules")
async def create(
    request: Request,
    *,
    name: str = Form(""),
    spec: str = Form(""),
    task: str = Form(""),
    tz: str = Form(""),
    args: str = Form(""),
    kwargs: str = Form(""),
    queue: str = Form(""),
    who: Operator,
) -> Response:
    s = await manager(request)
    if not name.strip():
        raise ConfigurationError("name: give the schedule a name")
    _refuse(await _check(request, spec, tz))
    if not task.strip() or await s.client.definition(task.strip()) is None:
        raise ConfigurationError(f"task: no worker registered a task named {task.strip()!r}")
    info = await s.add(name.strip(), spec.strip(), task.strip(), tz=tz.strip() or None,
                       args=_json(args, "args", list), kwargs=_json(kwargs, "kwargs", dict),
                       queue=queue.strip() or None)  # fmt: skip
    await audit(request, who, "schedules.create", target=info.definition.name, count=1,
                detail={"spec": info.definition.spec, "tz": info.definition.tz})  # fmt: skip
    return RedirectResponse(f"{base_of(request)}/schedules/{info.definition.name}", 303)


@router.get("/schedules/{name}/edit")
async def edit_page(request: Request, name: str, who: Reader) -> Response:
    info = await (await manager(request)).get(name)
    d = info.definition
    check = await _check(request, d.spec, d.tz)
    return page(request, "schedule_form.html", view="schedules", d=d, tz=d.tz, check=check)


@router.post("/schedules/{name}/edit")
async def edit(
    request: Request,
    *,
    name: str,
    spec: str = Form(""),
    tz: str = Form(""),
    args: str = Form(""),
    kwargs: str = Form(""),
    who: Operator,
) -> Response:
    """Change the spec, zone and arguments; the next run is recomputed."""
    s = await manager(request)
    before = (await s.get(name)).definition
    _refuse(await _check(request, spec, tz))
    changes = {
        "spec": spec.strip(),
        "tz": tz.strip() or before.tz,
        "args": _json(args, "args", list),
        "kwargs": _json(kwargs, "kwargs", dict),
    }
    await s.update(name, **changes)
    await audit(request, who, "schedules.update", target=name, count=1,
                detail={"before": {"spec": before.spec, "tz": before.tz},
                        "after": {"spec": changes["spec"], "tz": changes["tz"]}})  # fmt: skip
    return RedirectResponse(f"{base_of(request)}/schedules/{name}", status_code=303)


def _moment(text: str, what: str) -> datetime:
    """An aware ISO 8601 moment ('2026-03-29T00:00+01:00'); naive ones are refused
    (which zone was meant is the operator's to say)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigurationError(
            f"{what}: {text!r} is not an ISO 8601 moment such as 2026-03-29T00:00+01:00"
        ) from None
    require_aware(moment, what)
    return moment


@router.get("/schedules/{name}/backfill")
async def backfill_preview(
    request: Request, name: str, who: Reader, start: str = "", end: str = ""
) -> Response:
    """The dry run: the run times of the range a backfill would enqueue."""
    s = await manager(request)
    info = await s.get(name)
    times: list[datetime] | None = None
    if start or end:
        times = await s.backfill_times(name, _moment(start, "start"), _moment(end, "end"))
    return page(request, "schedule_backfill.html", view="schedules", d=info.definition,
                start=start, end=end, times=times)  # fmt: skip


@router.post("/schedules/{name}/backfill")
async def backfill(
    request: Request,
    *,
    name: str,
    start: str = Form(""),
    end: str = Form(""),
    confirm: str = Form(""),
    who: Operator,
) -> Response:
    if confirm.strip() != name:
        raise ConfigurationError(f"not confirmed: type {name!r} to backfill this schedule")
    done = await (await manager(request)).backfill(
        name, _moment(start, "start"), _moment(end, "end"), by=who.name
    )
    await audit(request, who, "schedules.backfill", target=name, count=done.enqueued,
                filter=f"{done.start.isoformat()}..{done.end.isoformat()}",
                detail={"existing": done.existing})  # fmt: skip
    return page(request, "schedule_backfilled.html", view="schedules", done=done)
