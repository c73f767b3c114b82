"""Scheduler loops: each loop's heartbeat (host, pid, started, last tick, runs
fired), alive or dead within the last ten minutes; live."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chronoq.web.auth import Reader, state_of
from chronoq.web.live import Fragments, Tick, live_view
from chronoq.web.render import page, render_fragment
from chronoq.web.state import DashboardState

router = APIRouter()


async def model(state: DashboardState) -> dict[str, Any]:
    backend = await state.backend()

    async def read() -> dict[str, Any]:
        return {"loops": [beat.to_dict() for beat in await backend.scheduler_loops.read()]}

    found: dict[str, Any] = await state.cache.get("schedulers", 1.0, read)
    return found


@router.get("/schedulers")
async def schedulers(request: Request, who: Reader) -> Response:
    found = await model(state_of(request))
    return page(request, "schedulers.html", view="schedulers", live="schedulers", **found)


@live_view("schedulers")
async def live_schedulers(state: DashboardState, tick: Tick, _: str) -> Fragments:
    found = await model(state)
    return {"loop-list": render_fragment(state.base, "_schedulers.html", **found)}
