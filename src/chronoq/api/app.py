"""`create_api(app)`: chronoq's HTTP API as a FastAPI application.

OpenAPI 3.1 at `/openapi.json` (docs at `/docs`); resources under `/v1`; probes
at `/healthz` and `/readyz`; the seeds' `POST /campaign/addScheduledCampaign`.
Every request but the probes needs a bearer token (`chronoq tokens create`);
every error is a problem+json body; every state change is audited.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from chronoq.api import problems
from chronoq.api.body import BodyGate
from chronoq.api.routes import (
    alerts,
    audit,
    campaign,
    campaigns,
    dead,
    fleet,
    health,
    jobs,
    limits,
    locks,
    metrics,
    operations,
    queue_control,
    queues,
    schedules,
    tasks,
    workflows,
)
from chronoq.api.state import ApiState
from chronoq.app import App

ROUTERS = (jobs, tasks, queues, dead, operations, metrics, health, alerts, audit, campaign,
           campaigns, schedules, limits, locks, fleet, queue_control, workflows)  # fmt: skip


def create_api(
    app: App,
    *,
    max_body_bytes: int | None = None,
    run_operations: bool = True,
    rate: str | None = None,
) -> FastAPI:
    """The API of `app`'s deployment. Its Redis connections open on first use and
    close with the lifespan (mounted in another app, close them with
    `await api.state.chronoq.close()`). `max_body_bytes`: the largest request
    body (default CHRONOQ_API_MAX_BODY_BYTES, 1 MiB). `run_operations`: this
    process runs bulk operations (from its lifespan's start, or from its first
    request when mounted); any number of API processes may. `rate`: requests per
    token (default CHRONOQ_API_RATE, 50/s; 'off': unlimited); beyond it 429."""
    limit = max_body_bytes if max_body_bytes is not None else app.settings.api_max_body_bytes
    state = ApiState(app, limit, run_operations=run_operations, api_rate=rate)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.start_runner()
        yield
        await state.close()

    api = FastAPI(
        title="chronoq",
        version="1",
        summary="Jobs, queues, dead letters, schedules and alerts of a chronoq deployment.",
        lifespan=lifespan,
        responses=problems.PROBLEM_RESPONSES,
    )
    api.state.chronoq = state
    problems.install(api)
    for module in ROUTERS:
        api.include_router(module.router)
    api.include_router(operations.dead_router)
    api.add_middleware(BodyGate, max_bytes=limit, routes=lambda: api.router.routes)
    api.openapi = lambda: _openapi(api)  # type: ignore[method-assign]
    return api


def _openapi(api: FastAPI) -> dict[str, Any]:
    """The document, with the Problem schema every error response refers to."""
    if api.openapi_schema is None:
        document = get_openapi(title=api.title, version=api.version, summary=api.summary,
                               routes=api.routes, description=__doc__)  # fmt: skip
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        problem = problems.Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(problem.pop("$defs", {}))
        schemas["Problem"] = problem
        api.openapi_schema = document
    return api.openapi_schema
