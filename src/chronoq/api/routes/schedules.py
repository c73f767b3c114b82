"""Schedules: create, read, update, delete (ETag/If-Match), pause and resume with a
reason, trigger, backfill a range, next runs with daylight-saving changes marked,
run history, the calendar of upcoming runs, and the check of a spec."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import AwareDatetime, Field

from chronoq.api.audit import audit, audited, exempt
from chronoq.api.auth import Operator, Principal, Reader
from chronoq.api.etags import check_if_match, tagged
from chronoq.api.idempotency import IdempotencyKey, Made, idempotent
from chronoq.api.models import Body, Done
from chronoq.api.problems import ProblemError
from chronoq.api.state import api_state
from chronoq.core.errors import ConfigurationError, ScheduleNotFound
from chronoq.core.registry import unknown_task
from chronoq.manage import Schedules
from chronoq.schedule.model import Misfire, Overlap, ScheduleDef

router = APIRouter(prefix="/v1", tags=["schedules"])
Name = Annotated[str, Path(min_length=1, max_length=128)]
Reason = Field(None, max_length=500, description="Why: stored with the schedule and audited.")


def schedules(request: Request) -> Schedules:
    """The schedule manager over the API's client (the app's zone by default)."""
    state = api_state(request)
    return Schedules(state.client(), state.app.timezone)


SchedulesDep = Annotated[Schedules, Depends(schedules)]


async def _current(s: Schedules, name: str) -> dict[str, Any] | None:
    try:
        return (await s.get(name)).to_dict()
    except ScheduleNotFound:
        return None


class ScheduleFields(Body):
    """What a schedule may set (an update sends only what changes)."""

    spec: str | None = Field(None, min_length=1, max_length=200, examples=["0 9 * * mon-fri"])
    tz: str | None = Field(None, min_length=1, max_length=64, examples=["Europe/Paris"])
    args: list[Any] | None = None
    kwargs: dict[str, Any] | None = None
    queue: str | None = Field(None, min_length=1, max_length=200)
    priority: int | None = Field(None, ge=-(10**6), le=10**6)
    max_retries: int | None = Field(None, ge=0, le=10**6)
    timeout: float | None = Field(None, gt=0, le=86400 * 30)
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    max_runs: int | None = Field(None, ge=1, le=10**9)
    jitter: float | None = Field(None, ge=0, le=86400)
    misfire: Misfire | None = None
    grace: float | None = Field(None, ge=0, le=86400 * 30)
    overlap: Overlap | None = None
    deadline: float | None = Field(None, gt=0, le=86400 * 30)


class ScheduleBody(ScheduleFields):
    name: str = Field(min_length=1, max_length=128)
    task: str = Field(min_length=1, max_length=200)
    spec: str = Field(min_length=1, max_length=200, examples=["0 9 * * mon-fri"])
    force: bool = Field(False, description="Schedule a task no worker has registered yet.")


def _invalid(exc: ConfigurationError) -> ProblemError:
    """A refused definition, naming the field when the message says which."""
    text = str(exc)
    hints = (("body.spec", ("cron", "macro", "@every", "duration", "spec")),
             ("body.tz", ("time zone",)), ("body.queue", ("queue",)),
             ("body.end", ("ends",)), ("body.name", ("schedule name",)))  # fmt: skip
    field = next((f for f, words in hints if any(w in text for w in words)), None)
    return ProblemError(422, text, field=field)


@router.get("/schedules", summary="Every schedule with its next and last run")
async def list_schedules(s: SchedulesDep, _: Principal = Reader) -> list[Any]:
    return [info.to_dict() for info in await s.list()]


@router.post(
    "/schedules",
    status_code=201,
    summary="Create a schedule",
    openapi_extra=audited("schedules.create"),
)
async def create_schedule(
    body: ScheduleBody, request: Request, s: SchedulesDep, who: Principal = Operator,
    idempotency_key: str | None = IdempotencyKey,
) -> Response:  # fmt: skip
    """422 naming the field for a bad spec, zone, naive datetime or unknown task;
    409 if a schedule of that name exists."""
    if not body.force and await s.client.definition(body.task) is None:
        raise ProblemError(422, str(unknown_task(body.task)), field="body.task")
    fields = body.model_dump(exclude={"force"}, exclude_none=True)
    fields.setdefault("tz", s.timezone)
    try:
        definition = ScheduleDef(**fields)
    except ConfigurationError as exc:
        raise _invalid(exc) from None

    async def make() -> Made:
        info = await s.add(definition)
        await audit(s.client.backend, who, "schedules.create", body.name, spec=body.spec)
        return 201, info.to_dict(), {"Location": f"/v1/schedules/{body.name}"}

    return await idempotent(request, who, idempotency_key, make)


@router.get("/schedules/{name}", summary="One schedule")
async def get_schedule(
    name: Name, response: Response, s: SchedulesDep, _: Principal = Reader
) -> Any:
    return tagged(response, (await s.get(name)).to_dict())


@router.patch(
    "/schedules/{name}", summary="Change a schedule", openapi_extra=audited("schedules.update")
)
async def update_schedule(
    name: Name, body: ScheduleFields, request: Request, response: Response, s: SchedulesDep,
    who: Principal = Operator,
) -> Any:  # fmt: skip
    """Only the fields sent change; the next run is recomputed. If-Match: only if
    unchanged since read (412 otherwise)."""
    current = await _current(s, name)
    if current is None:
        raise ProblemError(404, f"no schedule named {name!r}")
    check_if_match(request, current)
    changes = body.model_dump(exclude_unset=True)
    if any(value is None for value in changes.values()):
        nulls = sorted(k for k, v in changes.items() if v is None)
        raise ProblemError(422, f"{', '.join(nulls)}: give a value (null clears nothing)",
                           field=f"body.{nulls[0]}")  # fmt: skip
    try:
        info = await s.update(name, **changes)
    except ConfigurationError as exc:
        raise _invalid(exc) from None
    await audit(s.client.backend, who, "schedules.update", name, fields=sorted(changes))
    return tagged(response, info.to_dict())


@router.delete(
    "/schedules/{name}",
    summary="Delete a schedule",
    response_model=Done,
    openapi_extra=audited("schedules.delete"),
)
async def delete_schedule(
    name: Name, request: Request, s: SchedulesDep, who: Principal = Operator
) -> Done:
    """Jobs it enqueued stay. If-Match: only if unchanged since read."""
    current = await _current(s, name)
    if current is None:
        raise ProblemError(404, f"no schedule named {name!r}")
    check_if_match(request, current)
    await s.remove(name)
    await audit(s.client.backend, who, "schedules.delete", name)
    return Done(id=name, status="removed")


class ReasonBody(Body):
    reason: str | None = Reason


@router.post(
    "/schedules/{name}/pause", summary="Pause a schedule", openapi_extra=audited("schedules.pause")
)
async def pause_schedule(
    name: Name, s: SchedulesDep, body: ReasonBody | None = None, who: Principal = Operator
) -> Any:
    reason = body.reason if body else None
    info = await s.pause(name, reason, by=who.name)
    await audit(s.client.backend, who, "schedules.pause", name, reason=reason or "")
    return info.to_dict()


@router.post(
    "/schedules/{name}/resume",
    summary="Resume a schedule",
    openapi_extra=audited("schedules.resume"),
)
async def resume_schedule(
    name: Name, s: SchedulesDep, body: ReasonBody | None = None, who: Principal = Operator
) -> Any:
    """It fires again from its next run after now (missed runs are not caught up:
    backfill them)."""
    reason = body.reason if body else None
    info = await s.resume(name, reason, by=who.name)
    await audit(s.client.backend, who, "schedules.resume", name, reason=reason or "")
    return info.to_dict()


@router.post(
    "/schedules/{name}/trigger",
    status_code=201,
    summary="Run a schedule now",
    openapi_extra=audited("schedules.trigger"),
)
async def trigger_schedule(
    name: Name, request: Request, s: SchedulesDep, who: Principal = Operator,
    idempotency_key: str | None = IdempotencyKey,
) -> Response:  # fmt: skip
    await s.get(name)

    async def make() -> Made:
        job = await s.trigger(name, by=who.name)
        await audit(s.client.backend, who, "schedules.trigger", name, job=job.id)
        body = {"id": job.id, "queue": job.queue, "status": job.status.value}
        return 201, body, {"Location": f"/v1/jobs/{job.id}"}

    return await idempotent(request, who, idempotency_key, make)


class BackfillBody(Body):
    start: AwareDatetime
    end: AwareDatetime = Field(description="Inclusive; a time after now counts as now.")
    force: bool = Field(False, description="Even if no worker has registered its task.")


@router.post(
    "/schedules/{name}/backfill",
    summary="Enqueue the runs of a past range",
    openapi_extra=audited("schedules.backfill"),
)
async def backfill_schedule(
    name: Name, body: BackfillBody, s: SchedulesDep, who: Principal = Operator
) -> Any:
    """Idempotent per run time: backfilling a range twice enqueues each run once."""
    try:
        done = await s.backfill(name, body.start, body.end, by=who.name, force=body.force)
    except ConfigurationError as exc:
        raise ProblemError(422, str(exc), field="body.end") from None
    await audit(s.client.backend, who, "schedules.backfill", name, count=done.enqueued,
                start=body.start.isoformat(), end=body.end.isoformat())  # fmt: skip
    return done.to_dict()


@router.get("/schedules/{name}/next-runs", summary="Next runs, daylight-saving changes marked")
async def next_runs(
    name: Name, s: SchedulesDep, _: Principal = Reader,
    count: Annotated[int, Query(ge=1, le=1000)] = 10, after: AwareDatetime | None = None,
) -> list[Any]:  # fmt: skip
    return [run.to_dict() for run in await s.planned(name, count, after=after)]


@router.get("/schedules/{name}/history", summary="What happened to its runs, newest first")
async def history(
    name: Name, s: SchedulesDep, _: Principal = Reader,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[Any]:  # fmt: skip
    return [view.to_dict() for view in await s.history(name, limit)]


@router.get("/calendar", summary="Upcoming runs per day per schedule")
async def upcoming_calendar(
    s: SchedulesDep, _: Principal = Reader, days: Annotated[int, Query(ge=1, le=31)] = 7,
    tz: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> Any:  # fmt: skip
    try:
        return (await s.calendar(days, tz=tz)).to_dict()
    except ConfigurationError as exc:
        raise ProblemError(422, str(exc), field="query.tz") from None


class SpecBody(Body):
    spec: str = Field(min_length=1, max_length=200, examples=["30 2 * * *"])
    tz: str | None = Field(None, min_length=1, max_length=64)
    count: int = Field(5, ge=1, le=100)
    after: AwareDatetime | None = None


@router.post(
    "/schedules/validate",
    summary="Check a spec and zone (nothing is stored)",
    openapi_extra=exempt("checks a spec; stores nothing"),
)
async def validate_spec(body: SpecBody, s: SchedulesDep, _: Principal = Reader) -> Any:
    """200 either way: `ok`, and the next runs, or the field at fault and why."""
    now: datetime | None = body.after
    return (await s.validate(body.spec, body.tz, count=body.count, now=now)).to_dict()
