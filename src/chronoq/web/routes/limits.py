"""Rate limits: each with its settings, its live state (keys in use, starts this
period, the busiest key's utilization and tokens left) and hot keys, pushed live
(the `limits` view of the SSE hub), and an edit form (rate, burst, minimum gap;
admin)."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from chronoq.core.errors import ConfigurationError
from chronoq.manage import Limits
from chronoq.redis.limit_state import LimitState
from chronoq.web.auth import Admin, Reader, audit, base_of, state_of
from chronoq.web.live import Fragments, Tick, live_view
from chronoq.web.render import page, render_fragment
from chronoq.web.state import DashboardState

router = APIRouter()
HOT_KEYS = 10


async def _limits(state: DashboardState) -> Limits:
    return Limits(await state.client(), state.app.timezone)  # the shared client: no close


async def states(state: DashboardState) -> list[LimitState]:
    """Every limit's live state, shared by every tab for a second."""
    manager = await _limits(state)

    async def read() -> list[LimitState]:
        return [await manager.state(limit.name, top=HOT_KEYS) for limit in await manager.list()]

    found: list[LimitState] = await state.cache.get("limits", 1.0, read)
    return found


@router.get("/limits")
async def limits(request: Request, who: Reader) -> Response:
    found = await states(state_of(request))
    return page(request, "limits.html", view="limits", live="limits", states=found)


@live_view("limits")
async def live_limits(state: DashboardState, tick: Tick, _: str) -> Fragments:
    return {f"limit-state-{s.limit.name}": render_fragment(state.base, "_limit_state.html", s=s)
            for s in await states(state)}  # fmt: skip


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
    state = state_of(request)
    manager = await _limits(state)
    before = await manager.get(name)
    after = await manager.update(name, rate=rate.strip(), burst=burst_n, min_gap=gap)
    await audit(request, who, "limits.update", target=name, count=1,
                detail={"before": before.to_dict(), "after": after.to_dict()})  # fmt: skip
    state.cache.forget("limits")  # the page it goes back to shows the change
    return RedirectResponse(f"{base_of(request)}/limits#limit-{name}", status_code=303)
