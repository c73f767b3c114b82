"""Rate limits: each with its settings, the recently used keys' budgets now, and
an edit form (rate, burst, minimum gap; admin)."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from chronoq.core.errors import ConfigurationError
from chronoq.manage import Limits
from chronoq.web.auth import Admin, Reader, audit, base_of, state_of
from chronoq.web.render import page

router = APIRouter()
KEYS_SHOWN = 10


async def _limits(request: Request) -> Limits:
    state = state_of(request)
    return Limits(await state.client(), state.app.timezone)  # the shared client: no close


@router.get("/limits")
async def limits(request: Request, who: Reader) -> Response:
    manager = await _limits(request)
    rows = []
    for limit in await manager.list():
        usage = sorted(await manager.usage(limit.name), key=lambda u: -u.utilization)
        rows.append({"limit": limit, "usage": usage[:KEYS_SHOWN], "keys": len(usage)})
    return page(request, "limits.html", view="limits", rows=rows)


@router.post("/limits/{name}")
async def edit(
    request: Request,
    *,
    name: str,
    rate: str = Form(...),
    burst: str = Form("0"),
    min_gap: str = Form("0"),
    who: Admin,
) -> Response:
    """Change a limit's rate, burst and gap; the rest (windows, zone) stay."""
    try:
        burst_n, gap = int(burst or 0), float(min_gap or 0)
    except ValueError:
        raise ConfigurationError("burst is a whole number and min_gap seconds") from None
    manager = await _limits(request)
    before = await manager.get(name)
    after = await manager.update(name, rate=rate.strip(), burst=burst_n, min_gap=gap)
    await audit(request, who, "limits.update", target=name, count=1,
                detail={"before": before.to_dict(), "after": after.to_dict()})  # fmt: skip
    return RedirectResponse(f"{base_of(request)}/limits#limit-{name}", status_code=303)
