"""Bulk operations: the list (newest first) with cancel, and one operation's
page, its progress pushed live (the `operation:<id>` view of the SSE hub, read
once a second however many tabs watch) until it ends. The server's runner does
the work (`chronoq.bulk.OperationRunner`, started by `DashboardState` or, in
`create_site`, by the API)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chronoq.bulk import Operations
from chronoq.core.errors import OperationNotFound
from chronoq.web.auth import Operator, Reader, state_of
from chronoq.web.live import Fragments, Tick, live_view
from chronoq.web.render import back, page, render_fragment
from chronoq.web.state import DashboardState

router = APIRouter()
LISTED = 50


async def _ops(state: DashboardState) -> Operations:
    return Operations(await state.client())  # the shared client: no close


async def _one(state: DashboardState, operation_id: str) -> dict[str, Any]:
    """The operation's JSON form, shared by every tab for a second."""
    ops = await _ops(state)

    async def read() -> dict[str, Any]:
        return (await ops.get(operation_id)).to_dict()

    found: dict[str, Any] = await state.cache.get(f"operation:{operation_id}", 1.0, read)
    return found


@router.get("/operations")
async def operations(request: Request, who: Reader) -> Response:
    listed = await (await _ops(state_of(request))).list(limit=LISTED)
    return page(request, "operations.html", view="operations",
                ops=[op.to_dict() for op in listed])  # fmt: skip


@router.get("/operations/{operation_id}")
async def operation(request: Request, operation_id: str, who: Reader) -> Response:
    state = state_of(request)
    op = await _one(state, operation_id)
    final = op["state"] in ("done", "cancelled", "failed")
    return page(request, "operation.html", view="operations", op=op,
                live="" if final else f"operation:{operation_id}")  # fmt: skip


@router.post("/operations/{operation_id}/cancel")
async def cancel(request: Request, operation_id: str, who: Operator) -> Response:
    """No more jobs are acted on once this returns (what was done stays done); the
    library audits the cancel with the viewer's name."""
    state = state_of(request)
    await (await _ops(state)).cancel(operation_id, actor=who.name)
    state.cache.forget(f"operation:{operation_id}")
    return back(request, f"/operations/{operation_id}")


@live_view("operation")
async def live_operation(state: DashboardState, tick: Tick, operation_id: str) -> Fragments | None:
    try:
        op = await _one(state, operation_id)
    except OperationNotFound:
        return None
    return {"operation-progress": render_fragment(state.base, "_operation.html", op=op)}
