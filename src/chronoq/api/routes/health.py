"""Probes and the health report: `/healthz` (this process answers; no Redis),
`/readyz` (Redis answers), `/v1/health` (the full report of chronoq.observe.health)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from chronoq.api.auth import Principal, Reader
from chronoq.api.problems import ProblemError
from chronoq.api.state import backend
from chronoq.observe.alerts import StoredAlerts
from chronoq.observe.health import check_health
from chronoq.redis.backend import Backend
from chronoq.redis.errors import REDIS_FAULTS

router = APIRouter(tags=["health"])
BackendDep = Annotated[Backend, Depends(backend)]
READY_TIMEOUT = 2.0


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: Redis answers")
async def readyz(b: BackendDep) -> dict[str, str]:
    """503 (a problem) when Redis does not answer a PING within 2 s."""
    try:
        await asyncio.wait_for(b.redis.ping(), READY_TIMEOUT)
    except TimeoutError:
        raise ProblemError(503, f"Redis did not answer within {READY_TIMEOUT:g} s",
                           headers={"Retry-After": "1"}) from None  # fmt: skip
    except REDIS_FAULTS as exc:
        raise ProblemError(503, f"Redis is unreachable: {type(exc).__name__}",
                           headers={"Retry-After": "1"}) from None  # fmt: skip
    return {"status": "ready"}


@router.get("/v1/health", summary="The health report", tags=["health"])
async def health(b: BackendDep, _: Principal = Reader) -> Any:
    """Each check (redis, memory, eviction, persistence, queues, schedulers, clock,
    alerts) with its level; `status` is the worst."""
    report = await check_health(b, alerts=[StoredAlerts(b.alerts)])
    return report.to_dict()
