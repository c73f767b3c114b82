"""The audit log: every change made through the dashboard, the API or the CLI,
newest first, in pages."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from chronoq.web.auth import Reader, state_of
from chronoq.web.render import page

router = APIRouter()
PAGE = 50


@router.get("/audit")
async def audit_log(request: Request, who: Reader, before: str = "") -> Response:
    backend = await state_of(request).backend()
    entries = await backend.access.audit(limit=PAGE, before=before or None)
    older = entries[-1].id if len(entries) == PAGE else ""
    return page(request, "audit.html", view="audit", entries=entries, older=older)
