"""Quotas: runs per account per local day or hour; the recently used accounts'
counts now, and an edit form for the limit (admin)."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from chronoq.core.errors import ConfigurationError
from chronoq.manage import Quotas
from chronoq.web.auth import Admin, Reader, audit, base_of, state_of
from chronoq.web.render import page

router = APIRouter()
KEYS_SHOWN = 10


async def _quotas(request: Request) -> Quotas:
    state = state_of(request)
    return Quotas(await state.client(), state.app.timezone)  # the shared client: no close


@router.get("/quotas")
async def quotas(request: Request, who: Reader) -> Response:
    manager = await _quotas(request)
    rows = []
    for limit in await manager.list():
        usage = sorted(await manager.usage(limit.name), key=lambda u: -u.utilization)
        rows.append({"limit": limit, "usage": usage[:KEYS_SHOWN], "keys": len(usage)})
    return page(request, "quotas.html", view="quotas", rows=rows)


@router.post("/quotas/{name}")
async def edit(
    request: Request,
    *,
    name: str,
    limit: str = Form(...),
    who: Admin,
) -> Response:
    try:
        count = int(limit)
    except ValueError:
        raise ConfigurationError(f"a quota's limit is a whole number, got {limit!r}") from None
    manager = await _quotas(request)
    before = await manager.get(name)
    after = await manager.set(name, count, per=before.period.value, tz=before.tz)
    await audit(request, who, "quotas.update", target=name, count=1,
                detail={"before": before.to_dict(), "after": after.to_dict()})  # fmt: skip
    return RedirectResponse(f"{base_of(request)}/quotas#quota-{name}", status_code=303)
