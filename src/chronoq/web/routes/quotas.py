"""Quotas: runs per account per local day or hour; each quota's recently used
accounts with their use now (used of limit, utilization, their zone, the next
start allowed), pushed live (the `quotas` view of the SSE hub, read once a second
however many tabs watch), and an edit form for the limit (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from chronoq.core.errors import ConfigurationError
from chronoq.manage import Quotas
from chronoq.web.auth import Admin, Reader, audit, base_of, state_of
from chronoq.web.live import Fragments, Tick, live_view
from chronoq.web.render import page, render_fragment
from chronoq.web.state import DashboardState

router = APIRouter()
KEYS_SHOWN = 10


async def _quotas(state: DashboardState) -> Quotas:
    return Quotas(await state.client(), state.app.timezone)  # the shared client: no close


async def rows(state: DashboardState) -> list[dict[str, Any]]:
    """Every quota with its busiest recent accounts, shared by every tab for a second."""
    manager = await _quotas(state)

    async def read() -> list[dict[str, Any]]:
        made = []
        for limit in await manager.list():
            usage = sorted(await manager.usage(limit.name), key=lambda u: -u.utilization)
            made.append({"limit": limit, "usage": usage[:KEYS_SHOWN], "accounts": len(usage)})
        return made

    found: list[dict[str, Any]] = await state.cache.get("quotas", 1.0, read)
    return found


@router.get("/quotas")
async def quotas(request: Request, who: Reader) -> Response:
    found = await rows(state_of(request))
    return page(request, "quotas.html", view="quotas", live="quotas", rows=found)


@live_view("quotas")
async def live_quotas(state: DashboardState, tick: Tick, _: str) -> Fragments:
    return {f"quota-usage-{row['limit'].name}": render_fragment(state.base, "_quota_usage.html",
                                                                row=row)
            for row in await rows(state)}  # fmt: skip


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
    state = state_of(request)
    manager = await _quotas(state)
    before = await manager.get(name)
    after = await manager.set(name, count, per=before.period.value, tz=before.tz)
    await audit(request, who, "quotas.update", target=name, count=1,
                detail={"before": before.to_dict(), "after": after.to_dict()})  # fmt: skip
    state.cache.forget("quotas")  # the page it goes back to shows the change
    return RedirectResponse(f"{base_of(request)}/quotas#quota-{name}", status_code=303)
