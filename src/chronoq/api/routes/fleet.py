"""Workers and scheduler loops, from their heartbeats."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from chronoq.api.auth import Principal, Reader
from chronoq.api.state import api_state
from chronoq.manage import Fleet

router = APIRouter(prefix="/v1", tags=["workers"])


def fleet(request: Request) -> Fleet:
    state = api_state(request)
    return Fleet(state.client(), state.app.timezone)


FleetDep = Annotated[Fleet, Depends(fleet)]


@router.get("/workers", summary="Live workers")
async def workers(f: FleetDep, _: Principal = Reader) -> list[Any]:
    return [w.to_dict() for w in await f.workers()]


@router.get("/schedulers", summary="Scheduler loops (alive, or dead within 10 minutes)")
async def schedulers(f: FleetDep, _: Principal = Reader) -> list[Any]:
    return [loop.to_dict() for loop in await f.schedulers()]
