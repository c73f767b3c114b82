"""Workflows, read-only: the newest first, and one as its tree of stages and steps
(job ids, states, results): the same JSON as `chronoq workflows show --json`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from chronoq.api.auth import Principal, Reader
from chronoq.api.state import client
from chronoq.client import Client
from chronoq.workflows import Workflows

router = APIRouter(prefix="/v1/workflows", tags=["workflows"])
ClientDep = Annotated[Client, Depends(client)]
WorkflowId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("/{workflow_id}", summary="A workflow as one tree")
async def get_workflow(workflow_id: WorkflowId, c: ClientDep, _: Principal = Reader) -> Any:
    """Status, the open stage, and each stage with its steps: node, item, state
    (pending, released, enqueued, succeeded, dead, cancelled), job id, due time,
    result and error."""
    return await Workflows(c).show(workflow_id)


@router.get("", summary="Workflows, newest first")
async def list_workflows(
    c: ClientDep, _: Principal = Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> dict[str, Any]:
    return {"workflows": await Workflows(c).list(limit=limit)}
