"""Queues: one queue's counts and pause state, and the operator's brakes: pause
(with a reason, kept with the pause), resume, and drain (admin: every waiting job
cancelled, after the page shows how many wait and the operator types the queue's
name). The overview's cards carry the same pause and resume buttons."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from chronoq.core.errors import ChronoqError, ConfigurationError
from chronoq.manage import QueueAdmin
from chronoq.redis.inspector import QueueCounts
from chronoq.web.auth import Admin, Operator, Reader, audit, state_of
from chronoq.web.render import back, page

router = APIRouter()


class NoSuchQueue(ChronoqError, LookupError):
    """A queue that never received a job: a typo must not look like an empty queue."""


async def _admin(request: Request) -> QueueAdmin:
    state = state_of(request)
    return QueueAdmin(await state.client(), state.app.timezone)  # the shared client: no close


async def _counts(admin: QueueAdmin, name: str) -> QueueCounts:
    for counts in await admin.counts():
        if counts.queue == name:
            return counts
    raise NoSuchQueue(f"no queue named {name!r}")


@router.get("/queues/{name}")
async def queue(request: Request, name: str, who: Reader) -> Response:
    counts = await _counts(await _admin(request), name)
    return page(request, "queue.html", view="overview", q=counts)


@router.post("/queues/{name}/pause")
async def pause(request: Request, *, name: str, reason: str = Form(""), who: Operator) -> Response:
    if not reason.strip():
        raise ConfigurationError("say why the queue is paused (the reason is kept with it)")
    admin = await _admin(request)
    await _counts(admin, name)
    await admin.pause(name, reason.strip(), by=who.name)
    state_of(request).cache.forget("paused:")
    await audit(request, who, "queues.pause", target=name, count=1,
                detail={"reason": reason.strip()})  # fmt: skip
    return back(request, f"/queues/{name}")


@router.post("/queues/{name}/resume")
async def resume(request: Request, name: str, who: Operator) -> Response:
    admin = await _admin(request)
    await _counts(admin, name)
    resumed = await admin.resume(name)
    state_of(request).cache.forget("paused:")
    await audit(request, who, "queues.resume", target=name, count=int(resumed))
    return back(request, f"/queues/{name}")


@router.get("/queues/{name}/drain")
async def drain_preview(request: Request, name: str, who: Reader) -> Response:
    """The dry run: how many jobs wait (ready, scheduled, blocked) and would be
    cancelled, and the typed confirmation the drain needs."""
    counts = await _counts(await _admin(request), name)
    waiting = counts.waiting + counts.scheduled + counts.blocked
    return page(request, "queue_drain.html", view="overview", q=counts, waiting=waiting)


@router.post("/queues/{name}/drain")
async def drain(request: Request, *, name: str, confirm: str = Form(""), who: Admin) -> Response:
    if confirm.strip() != name:
        raise ConfigurationError(f"not confirmed: type {name!r} to drain this queue")
    admin = await _admin(request)
    await _counts(admin, name)
    done = await admin.drain(name)
    await audit(request, who, "queues.drain", target=name, count=done.cancelled,
                detail=done.to_dict())  # fmt: skip
    return page(request, "queue_drained.html", view="overview", done=done)
