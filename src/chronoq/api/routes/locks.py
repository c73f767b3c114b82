"""Locks: the held ones (holder digest, fencing token, lease left), force release."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field

from chronoq.api.audit import audit, audited
from chronoq.api.auth import Admin, Principal, Reader
from chronoq.api.models import Body
from chronoq.api.state import api_state
from chronoq.manage import LockAdmin

router = APIRouter(prefix="/v1/locks", tags=["locks"])
Name = Annotated[str, Path(min_length=1, max_length=200)]


def lock_admin(request: Request) -> LockAdmin:
    state = api_state(request)
    return LockAdmin(state.client(), state.app.timezone)


LocksDep = Annotated[LockAdmin, Depends(lock_admin)]


@router.get("", summary="Locks, the most recently acquired first")
async def list_locks(
    m: LocksDep, _: Principal = Reader, held: Annotated[bool, Query()] = False
) -> list[Any]:
    """From the lock registry (no keyspace SCAN); `held`: only those held now."""
    return [info.to_dict() for info in await m.list(held_only=held)]


@router.get("/{name}", summary="One lock")
async def get_lock(name: Name, m: LocksDep, _: Principal = Reader) -> Any:
    return (await m.get(name)).to_dict()


class ReleaseBody(Body):
    fence: int | None = Field(None, ge=1, description="Only if still held at this fence.")
    reason: str | None = Field(None, max_length=500)


@router.post(
    "/{name}/release", summary="Force release a lock", openapi_extra=audited("locks.release")
)
async def force_release(
    name: Name, m: LocksDep, body: ReleaseBody | None = None, who: Principal = Admin
) -> Any:
    """The holder's next renewal fails (LockLost); the next holder gets a higher fence.
    `released` false: it was free, or re-acquired past `fence`."""
    fence = body.fence if body else None
    done = await m.force_release(name, fence=fence)
    if done.released:
        await audit(m.client.backend, who, "locks.release", name, fence=done.fence,
                    reason=(body.reason if body else None) or "")  # fmt: skip
    return done.to_dict()
