"""Queues: their counts (waiting, scheduled, blocked, running, dead, finished)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from chronoq.api.auth import Principal, Reader
from chronoq.api.problems import ProblemError
from chronoq.api.state import client
from chronoq.client import Client

router = APIRouter(prefix="/v1/queues", tags=["queues"])
ClientDep = Annotated[Client, Depends(client)]


@router.get("", summary="Every queue with its counts")
async def list_queues(c: ClientDep, _: Principal = Reader) -> list[Any]:
    return [row.to_dict() for row in await c.queues()]


@router.get("/{name}", summary="One queue's counts")
async def get_queue(
    c: ClientDep, name: Annotated[str, Path(min_length=1, max_length=200)], _: Principal = Reader
) -> Any:
    for row in await c.queues():
        if row.queue == name:
            return row.to_dict()
    raise ProblemError(404, f"no queue named {name!r}")
