"""Metrics: a window of the rollups (1 hour to 90 days), and the state now."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from chronoq.api.auth import Principal, Reader
from chronoq.api.routes.jobs import Text
from chronoq.api.state import backend
from chronoq.observe.metrics import read_metrics
from chronoq.observe.rollups import window
from chronoq.redis.backend import Backend

router = APIRouter(prefix="/v1/metrics", tags=["metrics"])
BackendDep = Annotated[Backend, Depends(backend)]
MAX_HOURS = 90 * 24


@router.get("", summary="Outcomes, throughput, wait and run times over a window")
async def metrics_window(
    b: BackendDep,
    _: Principal = Reader,
    hours: Annotated[float, Query(gt=0, le=MAX_HOURS, description="The window, ending now")] = 1,
    queue: Text = None,
    task: Text = None,
) -> Any:
    """Totals and per queue and task: counts by outcome, success rate, throughput,
    wait and run time percentiles, and each selected queue's jobs now."""
    found = await window(b, hours, queue, task)
    return found.to_dict()


@router.get("/now", summary="Queue, worker and server gauges now")
async def metrics_now(b: BackendDep, _: Principal = Reader) -> Any:
    return (await read_metrics(b.snapshots)).to_dict()
