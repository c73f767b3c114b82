"""Overview: a card per queue (counts, throughput sparkline, oldest waiting job,
failure rate, a warning when no worker consumes it, its pause and the pause and
resume buttons), live."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chronoq.observe.metrics import MetricsSnapshot, read_metrics
from chronoq.observe.rollups import MetricsWindow, window
from chronoq.observe.series import Series, series
from chronoq.redis.queue_control import QueuePause
from chronoq.web.auth import Reader, state_of
from chronoq.web.live import Fragments, Tick, live_view
from chronoq.web.render import page, render_fragment
from chronoq.web.state import DashboardState

router = APIRouter()
SLOW = 15.0  # seconds the rollup reads (sparklines, failure rates) are shared


async def cards(state: DashboardState, metrics: MetricsSnapshot | None = None) -> dict[str, Any]:
    backend = await state.backend()
    if metrics is None:
        metrics = await state.cache.get("metrics", 1.0, lambda: read_metrics(backend.snapshots))
    hour: MetricsWindow = await state.cache.get("window:1", SLOW, lambda: window(backend, 1))
    names = [q.queue for q in metrics.queues]

    async def sparks() -> dict[str, Series]:
        found = await asyncio.gather(*(series(backend, 1, queue=n) for n in names))
        return dict(zip(names, found, strict=True))

    lines = await state.cache.get("series:1:" + ",".join(names), SLOW, sparks)
    pauses: dict[str, QueuePause] = await state.cache.get(
        "paused:" + ",".join(names), 1.0, lambda: backend.queue_control.paused(names)
    )
    rows = []
    for q in metrics.queues:
        rollup = hour.by_queue.get(q.queue)
        success = rollup.success_rate if rollup is not None else None
        spark = lines.get(q.queue)
        rows.append(
            {
                "name": q.queue,
                "jobs": q.jobs,
                "oldest": q.oldest_waiting_seconds,
                "consumers": metrics.queue_workers.get(q.queue, 0),
                "failure_rate": None if success is None else 1 - success,
                "throughput": rollup.throughput if rollup is not None else 0.0,
                "spark": spark.rate("started") if spark is not None else [],
                "pause": pauses.get(q.queue),
            }
        )
    return {"queues": rows, "up": metrics.up, "error": metrics.error,
            "workers": metrics.workers, "loops": metrics.scheduler_loops}  # fmt: skip


@router.get("/")
async def overview(request: Request, who: Reader) -> Response:
    model = await cards(state_of(request))
    return page(request, "overview.html", view="overview", live="overview", **model)


@live_view("overview")
async def live_overview(state: DashboardState, tick: Tick, _: str) -> Fragments:
    model = await cards(state, tick.metrics)
    return {"queue-cards": render_fragment(state.base, "_overview_cards.html", **model)}
