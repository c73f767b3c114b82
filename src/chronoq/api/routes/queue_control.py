"""Queues: pause (with a reason), resume, drain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import Field

from chronoq.api.audit import audit, audited
from chronoq.api.auth import Admin, Operator, Principal
from chronoq.api.models import Body
from chronoq.api.problems import ProblemError
from chronoq.api.state import api_state
from chronoq.manage import QueueAdmin
from chronoq.redis.queue_control import DRAINED

router = APIRouter(prefix="/v1/queues", tags=["queues"])
Name = Annotated[str, Path(min_length=1, max_length=200)]


def queue_admin(request: Request) -> QueueAdmin:
    state = api_state(request)
    return QueueAdmin(state.client(), state.app.timezone)


async def _known(q: QueueAdmin, name: str) -> None:
    """404 for a queue that never received a job: a typo must not create a queue."""
    if name not in await q.client.inspector.queues():
        raise ProblemError(404, f"no queue named {name!r}")


AdminDep = Annotated[QueueAdmin, Depends(queue_admin)]


class PauseBody(Body):
    reason: str = Field("", max_length=500)


@router.post("/{name}/pause", summary="Pause a queue", openapi_extra=audited("queues.pause"))
async def pause(
    name: Name, q: AdminDep, body: PauseBody | None = None, who: Principal = Operator
) -> Any:
    """Workers claim none of its jobs until resumed (other queues are unaffected;
    enqueues still queue; running jobs finish)."""
    await _known(q, name)
    reason = body.reason if body else ""
    done = await q.pause(name, reason, by=who.name)
    await audit(q.client.backend, who, "queues.pause", name, reason=reason)
    return done.to_dict()


@router.post("/{name}/resume", summary="Resume a queue", openapi_extra=audited("queues.resume"))
async def resume(name: Name, q: AdminDep, who: Principal = Operator) -> Any:
    await _known(q, name)
    resumed = await q.resume(name)
    if resumed:
        await audit(q.client.backend, who, "queues.resume", name)
    return {"queue": name, "resumed": resumed}


class DrainBody(Body):
    reason: str = Field(DRAINED, min_length=1, max_length=500)


@router.post(
    "/{name}/drain",
    summary="Cancel every waiting job of a queue",
    openapi_extra=audited("queues.drain"),
)
async def drain(
    name: Name, q: AdminDep, body: DrainBody | None = None, who: Principal = Admin
) -> Any:
    """Ready, scheduled and blocked jobs end cancelled (kept for the cancelled
    retention, their error saying why); running jobs finish."""
    await _known(q, name)
    reason = body.reason if body else DRAINED
    done = await q.drain(name, reason=reason)
    await audit(q.client.backend, who, "queues.drain", name, count=done.cancelled, reason=reason)
    return done.to_dict()
