"""Campaigns (`chronoq.campaigns`): list (by state), create from a spec (admin,
Idempotency-Key, 201 with its Location), read one (state, steps with their
progress, next send, last error), pause and resume (operate), schedule a draft
and cancel (admin), its forecast against the real limits and windows, and its
runs, newest first. A bad spec is a 422 problem naming the field
(`body.steps.1.task`), and nothing is stored."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from chronoq.api.audit import audit, audited
from chronoq.api.auth import Admin, Operator, Principal, Reader
from chronoq.api.idempotency import IdempotencyKey, Made, idempotent
from chronoq.api.models import Body
from chronoq.api.problems import ProblemError
from chronoq.api.state import api_state
from chronoq.campaigns import Campaigns, CampaignSpec, CampaignState
from chronoq.campaigns.forecast_json import SLOTS_SHOWN, forecast_dict
from chronoq.core.errors import CampaignNotFound, ChronoqError, ConfigurationError, UnknownTask

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])
Name = Annotated[str, Path(min_length=1, max_length=128, description="The campaign's name.")]


def campaigns(request: Request) -> Campaigns:
    """The campaigns of the API's app, over its one client."""
    state = api_state(request)
    return Campaigns(state.client(), state.app.timezone)


CampaignsDep = Annotated[Campaigns, Depends(campaigns)]


class CampaignStepProgress(BaseModel):
    """One step of the current run: its jobs by outcome, and its next send."""

    model_config = ConfigDict(extra="allow")
    name: str = Field(description="The step's name.")
    total: int = Field(description="Its jobs: one, or one per recipient.")
    sent: int = Field(description="Jobs that ran to success.")
    skipped: int = Field(description="Jobs ended without sending (a stop, suppression).")
    failed: int = Field(description="Jobs that failed for good.")
    pending: int = Field(description="Jobs still to run.")
    next_at: str | None = Field(description="Its next send (ISO 8601, UTC).")


class Campaign(BaseModel):
    """A campaign as `chronoq campaigns show --json` prints it."""

    model_config = ConfigDict(extra="allow")
    name: str = Field(description="Its name (its id).")
    state: CampaignState = Field(description="draft, scheduled, running, paused, completed, "
                                 "failed or cancelled.")  # fmt: skip
    spec: dict[str, Any] = Field(description="The spec it was created with.")
    runs: int = Field(description="Runs started so far.")
    current_run: str | None = Field(description="The running run's workflow id.")
    steps: list[CampaignStepProgress] = Field(
        description="Progress per step of the current (or last) run."
    )
    recipients: int = Field(description="Recipients enrolled.")
    next_send: str | None = Field(description="The next send planned (ISO 8601, UTC).")
    last_error: str | None = Field(description="Why the last run failed, if it did.")
    created: str | None = Field(description="When it was created (ISO 8601, UTC).")
    updated: str | None = Field(description="Its last change (ISO 8601, UTC).")


class CampaignPage(BaseModel):
    campaigns: list[Campaign] = Field(description="Newest first.")


class CampaignRun(BaseModel):
    """One run: its workflow (GET /v1/workflows/{id}) and how it ended."""

    model_config = ConfigDict(extra="allow")
    run: int = Field(description="Its number, from 1.")
    workflow: str = Field(description="The run's workflow id.")
    status: str = Field(description="The workflow's status.")
    started: str | None = Field(description="ISO 8601, UTC.")
    ended: str | None = Field(description="ISO 8601, UTC; null while it runs.")
    error: str | None = Field(description="Why it failed, if it did.")


class CampaignRunPage(BaseModel):
    runs: list[CampaignRun] = Field(description="Newest first.")


class ForecastSlot(BaseModel):
    email: str = Field(description="The recipient.")
    at: str = Field(description="When it is sent (ISO 8601, UTC).")
    local_day: str = Field(description="The account-local day it counts under.")
    zone: str = Field(description="The zone its sending windows were read in.")


class CampaignForecast(BaseModel):
    """The campaign's sends simulated against its windows, caps, warm-up and the
    sends already booked."""

    text: str = Field(description="When the last recipient is reached, in words.")
    total: int = Field(description="Sends planned.")
    by_day: dict[str, int] = Field(description="Sends per account-local day (ISO date).")
    last: ForecastSlot | None = Field(description="The last send planned.")
    slots: list[ForecastSlot] = Field(description="The first sends planned, in order.")


class CampaignPause(Body):
    reason: str = Field("", max_length=500, description="Why: stored and audited.")


_NAMED = re.compile(r"^campaign ([A-Za-z_][\w.]*): ")


def _field(exc: ChronoqError) -> str | None:
    """Which field of the request a refused create names: the library's errors
    start "campaign <field>: ..." (`steps.1.task`)."""
    named = getattr(exc, "field", None)
    if not isinstance(named, str) or not named:
        found = _NAMED.match(str(exc))
        named = found.group(1) if found else None
    return f"body.{named}" if named else None


def _refused(exc: ChronoqError) -> ProblemError:
    """A create the library refused: 409 for a name taken or campaigns not
    installed in the app, else 422 naming the field."""
    text = str(exc)
    if "exists" in text:
        return ProblemError(409, text, field="body.name")
    if "not installed" in text:
        return ProblemError(409, text)
    return ProblemError(422, text, field=_field(exc))


async def _one(c: Campaigns, name: str) -> Any:
    try:
        return await c.get(name)
    except CampaignNotFound as exc:
        raise ProblemError(404, str(exc)) from None
    except ConfigurationError as exc:  # not a campaign name
        raise ProblemError(422, str(exc), field="path.name") from None


@router.get("", summary="Campaigns, newest first", response_model=CampaignPage)
async def list_campaigns(
    c: CampaignsDep,
    _: Principal = Reader,
    state: Annotated[CampaignState | None, Query(description="Only campaigns in it.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> Any:
    return {"campaigns": [v.to_dict() for v in await c.list(state=state, limit=limit)]}


@router.post(
    "",
    status_code=201,
    summary="Create a campaign",
    response_model=Campaign,
    responses={409: {"description": "A campaign of that name exists."}},
    openapi_extra=audited("campaigns.create"),
)
async def create_campaign(
    spec: CampaignSpec,
    request: Request,
    c: CampaignsDep,
    who: Principal = Admin,
    draft: Annotated[bool, Query(description="Store it without scheduling it.")] = False,
    idempotency_key: str | None = IdempotencyKey,
) -> Response:
    """Its steps' tasks must be registered; its schedule starts its runs (a draft
    waits for POST .../schedule). 422 naming the field for a bad spec (an unknown
    task, zone, cron field, window, a naive time); 409 if the name is taken."""

    async def make() -> Made:
        try:
            view = await c.create(spec, draft=draft)
        except (ConfigurationError, UnknownTask) as exc:
            raise _refused(exc) from None
        await audit(c.client.backend, who, "campaigns.create", spec.name, draft=draft)
        return 201, view.to_dict(), {"Location": f"/v1/campaigns/{spec.name}"}

    return await idempotent(request, who, idempotency_key, make)


@router.get("/{name}", summary="One campaign", response_model=Campaign)
async def get_campaign(name: Name, c: CampaignsDep, _: Principal = Reader) -> Any:
    """Its state, each step's progress, the next send and the last error."""
    return (await _one(c, name)).to_dict()


async def _act(c: Campaigns, who: Principal, action: str, name: str, *args: Any) -> Any:
    await _one(c, name)  # 404 before anything changes
    try:
        view = await getattr(c, action)(name, *args)
    except ConfigurationError as exc:
        raise ProblemError(409, str(exc)) from None
    detail = {"reason": args[0]} if args else {}
    await audit(c.client.backend, who, f"campaigns.{action}", name, **detail)
    return view.to_dict()


@router.post(
    "/{name}/pause",
    summary="Pause a campaign",
    response_model=Campaign,
    openapi_extra=audited("campaigns.pause"),
)
async def pause_campaign(
    name: Name, c: CampaignsDep, body: CampaignPause | None = None, who: Principal = Operator
) -> Any:
    """No send starts until resume (its schedule pauses too); sends in flight end."""
    return await _act(c, who, "pause", name, body.reason if body else "")


@router.post(
    "/{name}/resume",
    summary="Resume a campaign",
    response_model=Campaign,
    openapi_extra=audited("campaigns.resume"),
)
async def resume_campaign(name: Name, c: CampaignsDep, who: Principal = Operator) -> Any:
    """Sends to every recipient not yet sent, none twice, none skipped."""
    return await _act(c, who, "resume", name)


@router.post(
    "/{name}/schedule",
    summary="Schedule a draft campaign",
    response_model=Campaign,
    openapi_extra=audited("campaigns.schedule"),
)
async def schedule_campaign(name: Name, c: CampaignsDep, who: Principal = Admin) -> Any:
    """A draft starts running on its schedule."""
    return await _act(c, who, "schedule", name)


@router.post(
    "/{name}/cancel",
    summary="Cancel a campaign",
    response_model=Campaign,
    openapi_extra=audited("campaigns.cancel"),
)
async def cancel_campaign(name: Name, c: CampaignsDep, who: Principal = Admin) -> Any:
    """For good: its schedule is removed, its waiting sends end skipped."""
    return await _act(c, who, "cancel", name)


@router.get(
    "/{name}/forecast", summary="A campaign's sends, simulated", response_model=CampaignForecast
)
async def forecast_campaign(
    name: Name,
    c: CampaignsDep,
    _: Principal = Reader,
    now: Annotated[AwareDatetime | None, Query(description="Simulate from (default now).")] = None,
    slots: Annotated[int, Query(ge=0, le=10_000, description="Sends listed.")] = SLOTS_SHOWN,
) -> Any:
    """Against the real windows, caps, warm-up and the sends already booked, on a
    virtual clock: nothing is sent or booked."""
    await _one(c, name)
    found = await c.forecast(name, now=now)
    return forecast_dict(found, slots)


@router.get(
    "/{name}/runs", summary="A campaign's runs, newest first", response_model=CampaignRunPage
)
async def campaign_runs(
    name: Name, c: CampaignsDep, _: Principal = Reader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> Any:  # fmt: skip
    await _one(c, name)
    return {"runs": [run.to_dict() for run in await c.history(name, limit=limit)]}
