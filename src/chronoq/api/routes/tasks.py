"""Tasks: the registry (the app's tasks and those live workers published)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from chronoq.api.auth import Principal, Reader
from chronoq.api.problems import ProblemError
from chronoq.api.state import api_state, backend
from chronoq.core.registry import unknown_task
from chronoq.observe.tasks import task_catalog
from chronoq.redis.backend import Backend

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])
BackendDep = Annotated[Backend, Depends(backend)]


@router.get("", summary="Every registered task")
async def list_tasks(request: Request, b: BackendDep, _: Principal = Reader) -> list[Any]:
    """Name, queue, options, key templates, parameters; `live`: a worker serves it now."""
    return [t.to_dict() for t in await task_catalog(api_state(request).app.registry, b)]


@router.get("/{name}", summary="One task")
async def get_task(
    request: Request,
    b: BackendDep,
    name: Annotated[str, Path(min_length=1, max_length=200)],
    _: Principal = Reader,
) -> Any:
    for task in await task_catalog(api_state(request).app.registry, b):
        if task.name == name:
            return task.to_dict()
    raise ProblemError(404, str(unknown_task(name)))
