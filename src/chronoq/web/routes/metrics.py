"""Metrics: a window from 1 hour to 90 days, all queues or one: totals, success
rate, throughput, wait and run percentiles, and charts over the window drawn on the
server as SVG."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chronoq.core.errors import ConfigurationError
from chronoq.observe.rollups import MetricsWindow, window
from chronoq.observe.series import Series, series
from chronoq.web.auth import Reader, state_of
from chronoq.web.render import page

router = APIRouter()
RANGES = {"1h": 1.0, "6h": 6.0, "24h": 24.0, "7d": 168.0, "30d": 720.0, "90d": 2160.0}
SHARED = 10.0  # seconds a window's reads are shared by every tab


@router.get("/metrics")
async def metrics(request: Request, who: Reader, range: str = "1h", queue: str = "") -> Response:
    if range not in RANGES:
        raise ConfigurationError(f"unknown range {range!r}: one of {', '.join(RANGES)}")
    hours = RANGES[range]
    state = state_of(request)
    backend = await state.backend()
    chosen = queue or None
    key = f"{range}:{queue}"

    async def read_window() -> MetricsWindow:
        return await window(backend, hours, chosen)

    async def read_series() -> Series:
        return await series(backend, hours, chosen)

    totals = await state.cache.get("metrics-window:" + key, SHARED, read_window)
    points = await state.cache.get("metrics-series:" + key, SHARED, read_series)
    starts = [p.start for p in points.points]
    return page(
        request,
        "metrics.html",
        view="metrics",
        ranges=list(RANGES),
        range=range,
        queue=queue,
        queues=await backend.inspector.queues(),
        totals=totals,
        starts=starts,
        points=points,
    )
