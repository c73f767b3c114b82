"""Locks: each registered lock with its holder (a digest of the holder's token,
never the token), fencing token and lease left; force release (admin), after a
page shows the holder and the operator types the lock's name. The release is
pinned to the fence shown, so a lock re-acquired since is left alone."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from chronoq.core.errors import ConfigurationError
from chronoq.manage import LockAdmin
from chronoq.web.auth import Admin, Reader, audit, state_of
from chronoq.web.render import page

router = APIRouter()


async def _locks(request: Request) -> LockAdmin:
    state = state_of(request)
    return LockAdmin(await state.client(), state.app.timezone)  # the shared client: no close


@router.get("/locks")
async def locks(request: Request, who: Reader, held: str = "") -> Response:
    found = await (await _locks(request)).list(held_only=bool(held))
    return page(request, "locks.html", view="locks", locks=found, held=bool(held))


@router.get("/locks/{name}/release")
async def release_preview(request: Request, name: str, who: Reader) -> Response:
    lock = await (await _locks(request)).get(name)
    return page(request, "lock_release.html", view="locks", lock=lock)


@router.post("/locks/{name}/release")
async def release(
    request: Request, *, name: str, confirm: str = Form(""), fence: str = Form(""), who: Admin
) -> Response:
    if confirm.strip() != name:
        raise ConfigurationError(f"not confirmed: type {name!r} to force-release this lock")
    try:
        pinned = int(fence) if fence.strip() else None
    except ValueError:
        raise ConfigurationError(f"a lock's fence is a whole number, got {fence!r}") from None
    done = await (await _locks(request)).force_release(name, fence=pinned)
    await audit(request, who, "locks.force_release", target=name, count=int(done.released),
                detail=done.to_dict())  # fmt: skip
    return page(request, "lock_released.html", view="locks", done=done)
