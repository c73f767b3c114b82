"""Failure groups: one fingerprint per (task, exception, masked message), the
latest failing first; mark one handled."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from chronoq.observe.failures import FailureGroups
from chronoq.web.auth import Operator, Reader, audit, base_of, state_of
from chronoq.web.render import page

router = APIRouter()


@router.get("/failures")
async def failures(request: Request, who: Reader, queue: str = "", resolved: str = "") -> Response:
    backend = await state_of(request).backend()
    groups = await FailureGroups(backend).list(queue=queue or None, include_resolved=bool(resolved))
    return page(request, "failures.html", view="failures", groups=groups, queue=queue,
                resolved=resolved)  # fmt: skip


@router.post("/failures/{fingerprint}/resolve")
async def resolve(
    request: Request,
    *,
    fingerprint: str,
    note: str = Form(""),
    who: Operator,
) -> Response:
    backend = await state_of(request).backend()
    count = await FailureGroups(backend).resolve_group(fingerprint, note)
    await audit(request, who, "failures.resolve", target=fingerprint, count=count,
                detail={"note": note})  # fmt: skip
    return RedirectResponse(f"{base_of(request)}/failures", status_code=303)
