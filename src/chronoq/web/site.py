"""The whole site of a deployment: the HTTP API (`/v1`, `/openapi.json`,
`/healthz`, `/readyz`, `/campaign/...`) with the dashboard mounted at `/`.

`chronoq dashboard` and `chronoq up` serve it; mount it (or either half) in your
own ASGI app the same way. One lifespan closes both halves' connections: a
mounted sub-app's own lifespan would never run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from chronoq.api import create_api
from chronoq.app import App
from chronoq.web.dashboard import create_dashboard
from chronoq.web.state import Redactor


def create_site(
    app: App, *, redact: Redactor | None = None, allowed_origins: tuple[str, ...] = ()
) -> FastAPI:
    """The API with the dashboard at `/` (API routes match first)."""
    site = create_api(app)
    dashboard = create_dashboard(
        app, redact=redact, allowed_origins=allowed_origins, run_operations=False
    )  # the API's runner runs them
    site.mount("/", dashboard)
    api_lifespan = site.router.lifespan_context
    dashboard_lifespan = dashboard.router.lifespan_context

    @asynccontextmanager
    async def lifespan(served: FastAPI) -> AsyncIterator[None]:
        async with api_lifespan(served), dashboard_lifespan(dashboard):
            yield

    site.router.lifespan_context = lifespan
    return site
