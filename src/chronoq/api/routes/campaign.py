"""`POST /campaign/addScheduledCampaign`, the seeds' endpoint: a scheduled campaign.

It creates a campaign (`chronoq.campaigns`, `/v1/campaigns/<name>`) of one step:
`task` run with these arguments, for `account`, on `cron` (or `every`) in
`timezone`, under the task's rate limit and quota; the campaign's own schedule
(`campaign.<name>`) starts each run, one run at a time under the campaign's lock.
The account reaches the task as its keyword argument `account` (declare the task
`@app.task(account="{account}", ...)` so its jobs share queues fairly and count
quotas per account). `rate_limit` and `quota`, when given, must exist and be
limits the task asks (a campaign cannot add limits to its task's jobs): a
mismatch is refused, not ignored. Everything is checked before anything is
stored. An app without campaigns installed (`chronoq.campaigns.install(app)` not
called) gets what this endpoint made before campaigns existed: a schedule named
`name` running the task ("campaign": null).
"""

from __future__ import annotations

import inspect
import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import AwareDatetime, Field

from chronoq.api.audit import audit, audited
from chronoq.api.auth import Admin, Principal
from chronoq.api.idempotency import IdempotencyKey, Made, idempotent
from chronoq.api.models import Body
from chronoq.api.problems import ProblemError
from chronoq.api.state import api_state, client
from chronoq.campaigns import Campaigns, CampaignSpec
from chronoq.campaigns.chain import RUN_TASK
from chronoq.campaigns.service import schedule_name
from chronoq.client import Client
from chronoq.core.errors import ConfigurationError, LimitNotFound, ScheduleExists, ScheduleNotFound
from chronoq.core.limits import Kind
from chronoq.core.registry import unknown_task
from chronoq.core.task import TaskLike, bind_call
from chronoq.core.zones import zone
from chronoq.manage import Schedules
from chronoq.schedule.model import Misfire, Overlap, ScheduleDef
from chronoq.schedule.spec import parse_spec

router = APIRouter(tags=["campaigns"])
ClientDep = Annotated[Client, Depends(client)]
NEXT_RUNS = 5


class CampaignBody(Body):
    """A scheduled campaign: what runs, when, for whom, under which limits."""

    name: str = Field(min_length=1, max_length=128, description="The schedule's name (unique).")
    task: str = Field(min_length=1, max_length=200, description="The campaign task's name.")
    cron: str | None = Field(None, max_length=200, examples=["0 9 * * mon-fri"],
                             description="When it runs: a cron expression (5 or 6 fields); "
                             "give cron or every.")  # fmt: skip
    every: str | None = Field(None, max_length=50, examples=["15m"],
                              description="Or an interval: 15m, 2h, 1d.")  # fmt: skip
    timezone: str = Field("UTC", min_length=1, max_length=64, examples=["Europe/Paris"],
                          description="The IANA zone the cron reads its hours in.")  # fmt: skip
    account: str = Field(
        min_length=1, max_length=200, description="Whose campaign: the task's `account`."
    )
    args: list[Any] = Field(default_factory=list, description="The task's positional arguments.")
    kwargs: dict[str, Any] = Field(
        default_factory=dict, description="The task's keyword arguments (besides account)."
    )
    rate_limit: str | None = Field(None, max_length=200,
                                   description="A rate limit the task asks (checked).")  # fmt: skip
    quota: str | None = Field(None, max_length=200, description="A quota the task asks (checked).")
    queue: str | None = Field(None, max_length=200, description="Default: the task's queue.")
    start: AwareDatetime | None = Field(None, description="No run before (with its offset).")
    end: AwareDatetime | None = Field(None, description="No run after (with its offset).")
    max_runs: int | None = Field(None, ge=1, le=10**9, description="Stop after this many runs.")
    misfire: Misfire = Field(Misfire.ONCE, description="Runs missed while no scheduler ran: "
                             "run once, all, or skip them.")  # fmt: skip
    overlap: Overlap = Field(Overlap.ALLOW, description="A run due while the last one is "
                             "still running: allow, skip, or queue it.")  # fmt: skip
    force: bool = Field(False, description="Schedule a task no worker has registered yet.")


class CampaignOut(Body):
    """The campaign's schedule as stored, with its next runs."""

    name: str = Field(description="The campaign's name (GET /v1/campaigns/{name}).")
    task: str = Field(description="The campaign task.")
    spec: str = Field(description="The schedule's spec: the cron, or '@every <interval>'.")
    timezone: str = Field(description="The IANA zone of the spec.")
    account: str = Field(description="The account the task gets.")
    rate_limit: str | None = Field(description="The rate limit checked, if given.")
    quota: str | None = Field(description="The quota checked, if given.")
    next_runs: list[datetime] = Field(description=f"The next {NEXT_RUNS} run times (UTC).")
    schedule: dict[str, Any] = Field(
        description="The stored schedule that starts its runs (`campaign.<name>`), its state."
    )
    campaign: dict[str, Any] | None = Field(
        None,
        description="The campaign made (GET /v1/campaigns/{name}), scheduled; null when "
        "the app has no campaigns installed (then `schedule` runs the task itself).",
    )


def _spec(body: CampaignBody) -> str:
    if (body.cron is None) == (body.every is None):
        raise ProblemError(422, "give either cron or every (one of them)", field="body.cron")
    field, spec = ("body.cron", body.cron) if body.cron is not None else (
        "body.every", f"@every {body.every}")  # fmt: skip
    assert spec is not None
    try:
        parse_spec(spec)
    except ConfigurationError as exc:
        raise ProblemError(422, str(exc), field=field) from None
    return spec


def _kwargs(body: CampaignBody, task: TaskLike | None) -> dict[str, Any]:
    given = body.kwargs.get("account", body.account)
    if given != body.account:
        raise ProblemError(422, f"kwargs.account {given!r} is not the campaign's account "
                           f"{body.account!r}", field="body.kwargs")  # fmt: skip
    kwargs = {**body.kwargs, "account": body.account}
    if task is not None:
        try:
            bind_call(task, body.args, kwargs)
        except ConfigurationError as exc:
            raise ProblemError(422, f"{exc} (a campaign task takes its account as the keyword "
                               "argument `account`)", field="body.kwargs") from None  # fmt: skip
    return kwargs


async def _check_limit(
    request: Request, c: Client, task: TaskLike | None, name: str | None, kind: Kind
) -> None:
    if name is None:
        return
    field = "body.rate_limit" if kind is Kind.RATE else "body.quota"
    declared = api_state(request).app.declared_limits.get(name)
    try:
        limit = declared or await c.backend.limits.get(name)
    except LimitNotFound:
        raise ProblemError(422, f"no {kind.value} limit named {name!r}", field=field) from None
    if limit.kind is not kind:
        raise ProblemError(422, f"{name!r} is a {limit.kind.value} limit, not a {kind.value}",
                           field=field)  # fmt: skip
    asked = {limit_name for limit_name, _ in task.defaults.limits} if task else set()
    if task is not None and name not in asked:
        asks = sorted(asked) or "none"
        detail = f"task {task.name!r} does not ask limit {name!r} (it asks {asks}): declare it"
        raise ProblemError(422, detail + " on the task", field=field)


@router.post(
    "/campaign/addScheduledCampaign",
    status_code=201,
    summary="Schedule a campaign",
    response_model=CampaignOut,
    openapi_extra=audited("campaigns.add"),
)
async def add_scheduled_campaign(
    body: CampaignBody,
    request: Request,
    c: ClientDep,
    who: Principal = Admin,
    idempotency_key: str | None = IdempotencyKey,
) -> Response:
    """Creates the campaign's schedule and answers with its next runs. 422 naming
    the field for a bad cron field, an unknown zone or task, a naive datetime, a
    limit the task does not ask; 409 if a schedule of that name exists."""
    spec = _spec(body)
    try:
        tz = zone(body.timezone).key
    except ConfigurationError as exc:
        raise ProblemError(422, str(exc), field="body.timezone") from None
    task = await c.definition(body.task)
    if task is None and not body.force:
        raise ProblemError(422, str(unknown_task(body.task)), field="body.task")
    kwargs = _kwargs(body, task)
    await _check_limit(request, c, task, body.rate_limit, Kind.RATE)
    await _check_limit(request, c, task, body.quota, Kind.QUOTA)
    try:
        definition = ScheduleDef(
            name=body.name, task=body.task, spec=spec, tz=tz, args=list(body.args),
            kwargs=kwargs, queue=body.queue, start=body.start, end=body.end,
            max_runs=body.max_runs, misfire=body.misfire, overlap=body.overlap,
        )  # fmt: skip
    except ConfigurationError as exc:
        raise ProblemError(422, str(exc)) from None

    installed = task is not None and await c.definition(RUN_TASK) is not None
    campaign = _campaign_spec(body, task, tz, kwargs) if installed and task else None

    async def make() -> Made:
        schedules = Schedules(c, tz)
        if campaign is not None:
            made: dict[str, Any] | None = await _create(Campaigns(c, tz), campaign)
            stored, location = schedule_name(body.name), f"/v1/campaigns/{body.name}"
            info = await schedules.get(stored)
        else:
            if await _exists(schedules, body.name):
                raise ScheduleExists(f"a schedule named {body.name!r} exists")
            made, stored, location = None, body.name, f"/v1/schedules/{body.name}"
            info = await schedules.add(definition)
        runs = await schedules.next_runs(stored, NEXT_RUNS)
        out = CampaignOut(name=body.name, task=body.task, spec=spec, timezone=tz,
                          account=body.account, rate_limit=body.rate_limit, quota=body.quota,
                          next_runs=runs, schedule=info.to_dict(), campaign=made)  # fmt: skip
        await audit(c.backend, who, "campaigns.add", body.name, task=body.task,
                    account=body.account, spec=spec)  # fmt: skip
        return 201, out.model_dump(mode="json"), {"Location": location}

    return await idempotent(request, who, idempotency_key, make)


# Where a campaign spec's field comes from in this endpoint's body.
_FIELDS = {"name": "body.name", "account": "body.account", "timezone": "body.timezone",
           "steps": "body.task", "schedule.cron": "body.cron", "schedule.every": "body.every",
           "schedule.start": "body.start", "schedule.end": "body.end",
           "schedule": "body.cron", "max_runs": "body.max_runs"}  # fmt: skip


def _body_field(where: str) -> str:
    if where.startswith("steps.0.kwargs"):
        return "body.kwargs"
    return next((f for k, f in _FIELDS.items() if where == k or where.startswith(k + ".")),
                "body")  # fmt: skip


def _named(task: TaskLike, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments by name (a campaign step is called with keywords)."""
    if not args:
        return kwargs
    bound = task.signature.bind(*args, **kwargs)  # checked by _kwargs already
    varargs = [p.name for p in task.signature.parameters.values()
               if p.kind is inspect.Parameter.VAR_POSITIONAL]  # fmt: skip
    if any(name in bound.arguments for name in varargs):
        raise ProblemError(422, "a campaign step is called with keyword arguments: this "
                           "task's *args cannot be given", field="body.args")  # fmt: skip
    return dict(bound.arguments)


def _campaign_spec(
    body: CampaignBody, task: TaskLike, tz: str, kwargs: dict[str, Any]
) -> CampaignSpec:
    """The campaign of this body: one step running the task with its arguments
    (positional ones given by their names), on the body's schedule."""
    kwargs = _named(task, body.args, kwargs)
    when = {"cron": body.cron} if body.cron is not None else {"every": body.every}
    data = {"name": body.name, "account": body.account, "timezone": tz,
            "steps": [{"name": "step", "task": body.task, "kwargs": kwargs}],
            "schedule": {**when, "start": body.start, "end": body.end},
            "max_runs": body.max_runs}  # fmt: skip
    try:
        return CampaignSpec.parse(data)
    except ConfigurationError as exc:
        where = str(getattr(exc, "field", "") or "")
        raise ProblemError(422, str(exc), field=_body_field(where)) from None


async def _exists(schedules: Schedules, name: str) -> bool:
    try:
        await schedules.get(name)
    except ScheduleNotFound:
        return False
    return True


async def _create(campaigns: Campaigns, spec: CampaignSpec) -> dict[str, Any]:
    """Store the campaign, scheduled: 409 when its name is taken."""
    try:
        view = await campaigns.create(spec)
    except ConfigurationError as exc:
        text = str(exc)
        if "exists" in text:
            raise ProblemError(409, text, field="body.name") from None
        named = re.match(r"^campaign ([\w.]+): ", text)
        raise ProblemError(422, text, field=_body_field(named.group(1) if named else "")) from None
    return view.to_dict()
