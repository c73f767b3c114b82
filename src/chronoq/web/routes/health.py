"""Health: the same report as `chronoq health` (Redis, memory, eviction,
persistence, queues without consumers, scheduler loops, clocks, firing alerts)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chronoq.observe.alerts import StoredAlerts
from chronoq.observe.health import HealthReport, check_health
from chronoq.web.auth import Reader, state_of
from chronoq.web.render import page

router = APIRouter()


@router.get("/health")
async def health(request: Request, who: Reader) -> Response:
    state = state_of(request)
    backend = await state.backend()

    async def read() -> HealthReport:
        return await check_health(backend, alerts=[StoredAlerts(backend.alerts)])

    report = await state.cache.get("health", 2.0, read)
    return page(request, "health.html", view="health", report=report)
