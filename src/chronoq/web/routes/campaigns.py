"""Campaigns: the list (state, progress, next send) and one campaign's page: its
steps with their progress, the next sends of its current run, its runs, and its
forecast as a calendar of days with their send counts; pause (with a reason) and
resume (operate), schedule a draft and cancel (admin). The list, and a campaign's
state and progress, are pushed live (`campaigns`, `campaign:<name>`)."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from chronoq.campaigns import Campaigns, CampaignState
from chronoq.campaigns.chain import layout
from chronoq.campaigns.forecast_json import forecast_dict
from chronoq.campaigns.model import CampaignSpec
from chronoq.core import serialization
from chronoq.core.access import Role
from chronoq.core.errors import CampaignNotFound, ConfigurationError
from chronoq.web.auth import Forbidden, Operator, Reader, audit, state_of
from chronoq.web.live import Fragments, Tick, live_view
from chronoq.web.render import back, page, render_fragment
from chronoq.web.state import DashboardState

router = APIRouter()
LISTED = 50
NEXT_SENDS = 10
ACTIONS = {"pause": Role.OPERATE, "resume": Role.OPERATE, "schedule": Role.ADMIN,
           "cancel": Role.ADMIN}  # fmt: skip
WAITING = ("pending", "released", "enqueued")


async def _campaigns(state: DashboardState) -> Campaigns:
    return Campaigns(await state.client(), state.app.timezone)  # the shared client


def totals(view: dict[str, Any]) -> dict[str, int]:
    """Jobs ended (sent, skipped or failed) of jobs known, over every step."""
    steps = view.get("steps") or []
    done = sum(s["sent"] + s["skipped"] + s["failed"] for s in steps)
    return {"done": done, "total": sum(s["total"] for s in steps)}


async def listed(state: DashboardState, only: CampaignState | None) -> list[dict[str, Any]]:
    c = await _campaigns(state)

    async def read() -> list[dict[str, Any]]:
        views = [v.to_dict() for v in await c.list(state=only, limit=LISTED)]
        return [{**v, "progress": totals(v)} for v in views]

    key = f"campaigns:{only.value if only else ''}"
    found: list[dict[str, Any]] = await state.cache.get(key, 1.0, read)
    return found


async def one(state: DashboardState, name: str) -> dict[str, Any]:
    """The campaign now, with its next sends and runs, shared for a second."""
    c = await _campaigns(state)

    async def read() -> dict[str, Any]:
        view = (await c.get(name)).to_dict()
        runs = [r.to_dict() for r in await c.history(name, limit=20)]
        sends = await next_sends(state, view)
        return {**view, "progress": totals(view), "history": runs, "next_sends": sends}

    found: dict[str, Any] = await state.cache.get(f"campaign:{name}", 1.0, read)
    return found


async def next_sends(state: DashboardState, view: dict[str, Any]) -> list[dict[str, Any]]:
    """The current run's waiting per-recipient jobs, soonest first: step, recipient
    and when it is due (read from the run's workflow)."""
    if not view["current_run"]:
        return []
    stored = await (await state.backend()).workflows.load(view["current_run"])
    if stored is None:
        return []
    roles = layout(CampaignSpec.parse(view["spec"]))
    sends = []
    for node in stored.nodes.values():
        stage = int(node["stage"])
        if node["state"] not in WAITING or stage >= len(roles) or roles[stage].role != "each":
            continue
        (args, _), email = serialization.loads(node["call"]), ""
        if args and isinstance(args[0], dict):
            email = str(args[0].get("email", ""))
        due = int(float(node.get("due") or 0))
        sends.append({"step": roles[stage].step, "email": email, "state": node["state"],
                      "due_ms": due, "job": node.get("job")})  # fmt: skip
    sends.sort(key=lambda s: s["due_ms"])
    return sends[:NEXT_SENDS]


def month_grid(by_day: dict[str, int]) -> list[dict[str, Any]]:
    """The forecast's days as calendar months: weeks of seven days (Monday first),
    each day with its sends (days outside the month None)."""
    if not by_day:
        return []
    days = {date.fromisoformat(d): n for d, n in by_day.items()}
    first, last = min(days), max(days)
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        weeks = []
        for week in calendar.Calendar(firstweekday=0).monthdatescalendar(year, month):
            weeks.append([{"day": d, "sends": days.get(d, 0), "in_range": first <= d <= last}
                          if d.month == month else None for d in week])  # fmt: skip
        months.append({"title": date(year, month, 1).strftime("%B %Y"), "weeks": weeks})
        nxt = date(year, month, 28) + timedelta(days=4)
        year, month = nxt.year, nxt.month
    return months


async def forecast_of(state: DashboardState, name: str) -> dict[str, Any]:
    """The forecast from now, as JSON and as months (shared for ten seconds: it
    simulates every recipient)."""
    c = await _campaigns(state)

    async def read() -> dict[str, Any]:
        try:
            found = forecast_dict(await c.forecast(name), slots=0)
        except ConfigurationError as exc:  # nothing left to forecast, say why
            return {"error": str(exc)}
        return {**found, "months": month_grid(found["by_day"])}

    made: dict[str, Any] = await state.cache.get(f"campaign-forecast:{name}", 10.0, read)
    return made


def _state(text: str) -> CampaignState | None:
    if not text:
        return None
    try:
        return CampaignState(text)
    except ValueError:
        names = ", ".join(s.value for s in CampaignState)
        raise ConfigurationError(f"unknown state {text!r}: one of {names}") from None


@router.get("/campaigns")
async def campaigns(request: Request, who: Reader, state: str = "") -> Response:
    only = _state(state.strip())
    found = await listed(state_of(request), only)
    return page(request, "campaigns.html", view="campaigns",
                live=f"campaigns:{only.value}" if only else "campaigns", campaigns=found,
                states=[s.value for s in CampaignState], chosen=state)  # fmt: skip


@router.get("/campaigns/{name}")
async def campaign(request: Request, name: str, who: Reader) -> Response:
    state = state_of(request)
    try:
        view = await one(state, name)
    except ConfigurationError:  # not a campaign name: none of that name
        raise CampaignNotFound(f"no campaign named {name!r}") from None
    return page(request, "campaign.html", view="campaigns", live=f"campaign:{name}", c=view,
                forecast=await forecast_of(state, name))  # fmt: skip


@router.post("/campaigns/{name}/{action}")
async def control(
    request: Request, *, name: str, action: str, reason: str = Form(""), who: Operator
) -> Response:
    """Pause (with a reason), resume, schedule a draft or cancel the campaign."""
    needed = ACTIONS.get(action)
    if needed is None:
        raise ConfigurationError(f"unknown campaign action {action!r}: {', '.join(ACTIONS)}")
    if not who.can(needed):
        raise Forbidden(f"{action} needs the {needed.value} role")
    state = state_of(request)
    c = await _campaigns(state)
    args = (reason.strip(),) if action == "pause" else ()
    view = await getattr(c, action)(name, *args)  # a refused move: said, 400
    detail = {"reason": args[0]} if args else {}
    await audit(request, who, f"campaigns.{action}", target=name, count=1,
                detail={**detail, "state": view.state.value})  # fmt: skip
    state.cache.forget("campaign")  # the list and the page show the change
    return back(request, f"/campaigns/{name}")


@live_view("campaigns")
async def live_campaigns(state: DashboardState, tick: Tick, only: str) -> Fragments:
    found = await listed(state, _state(only))
    return {"campaign-list": render_fragment(state.base, "_campaigns.html", campaigns=found)}


@live_view("campaign")
async def live_campaign(state: DashboardState, tick: Tick, name: str) -> Fragments | None:
    try:
        view = await one(state, name)
    except (CampaignNotFound, ConfigurationError):
        return None
    return {"campaign-state": render_fragment(state.base, "_campaign_state.html", c=view)}
