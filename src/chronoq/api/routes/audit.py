"""The audit log: every state change, newest first, in pages."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from chronoq.api import cursors
from chronoq.api.auth import Principal, Reader
from chronoq.api.models import Page
from chronoq.api.state import backend
from chronoq.redis.backend import Backend

router = APIRouter(prefix="/v1/audit", tags=["audit"])
BackendDep = Annotated[Backend, Depends(backend)]


class AuditPage(Page):
    entries: list[dict[str, object]]


@router.get("", summary="The audit log", response_model=AuditPage)
async def audit_log(
    b: BackendDep,
    _: Principal = Reader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> AuditPage:
    """Who (the token's name) did what to what, with the filter and the count."""
    before = cursors.decode("audit", cursor) if cursor else None
    entries = await b.access.audit(limit=limit, before=before)
    more = cursors.encode("audit", entries[-1].id) if len(entries) == limit else None
    return AuditPage(entries=[asdict(e) for e in entries], next_cursor=more)
