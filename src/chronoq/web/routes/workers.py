"""Workers: each live worker (host, pid, queues, concurrency, jobs done and
running, memory, last heartbeat) and the jobs running now; live."""

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
        workers = await backend.inspector.workers()
        running = await backend.inspector.running(await backend.inspector.queues())
        return {"workers": workers, "running": running}

    found: dict[str, Any] = await state.cache.get("workers", 1.0, read)
    return found


@router.get("/workers")
async def workers(request: Request, who: Reader) -> Response:
    found = await model(state_of(request))
    return page(request, "workers.html", view="workers", live="workers", **found)


@live_view("workers")
async def live_workers(state: DashboardState, tick: Tick, _: str) -> Fragments:
    found = await model(state)
    return {"worker-list": render_fragment(state.base, "_workers.html", **found)}
