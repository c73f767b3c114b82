"""`create_dashboard(app)`: the dashboard as a FastAPI app, to run alone
(`chronoq dashboard`) or mount inside another ASGI app (`site.mount("/ui", ...)`).

Secure by default: every page needs a login, every action its role and the
session's form token, every unsafe request a same-origin Origin; the CSP allows
no inline script. Its routes are left out of any OpenAPI document.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from chronoq.app import App
from chronoq.core.errors import ChronoqError
from chronoq.web import live
from chronoq.web.auth import Forbidden, LoginRequired, forbidden, login_redirect
from chronoq.web.render import STATIC, page
from chronoq.web.routes import ROUTERS
from chronoq.web.security import SecurityMiddleware
from chronoq.web.state import DashboardState, Redactor

SESSION_TTL = 12 * 3600.0  # seconds a login lasts


def create_dashboard(
    app: App,
    *,
    redact: Redactor | None = None,
    session_ttl: float = SESSION_TTL,
    allowed_origins: tuple[str, ...] = (),
    run_operations: bool = True,
) -> FastAPI:
    """The dashboard of `app`'s deployment.

    `redact(task, args, kwargs) -> (args, kwargs)`: what the job pages show of a
    job's arguments (default: `default_redactor`, which hides values whose names
    look secret). `allowed_origins`: origins besides the dashboard's own whose
    pages may post to it (a proxy that rewrites the Host header). `run_operations`:
    this process runs the bulk operations its bulk actions create (from its first
    use of Redis); `create_site` leaves that to the API it sits beside."""
    state = DashboardState(app, redact=redact, session_ttl=session_ttl,
                           allowed_origins=allowed_origins,
                           run_operations=run_operations)  # fmt: skip
    hub = live.LiveHub(state)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await hub.close()
        await state.close()

    web = FastAPI(
        title="chronoq dashboard",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    web.state.chronoq = state
    web.state.live = hub
    web.add_middleware(SecurityMiddleware, allowed_origins=allowed_origins)
    web.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        web.include_router(router, include_in_schema=False)
    web.include_router(live.router, include_in_schema=False)
    _handlers(web)
    return web


def _handlers(web: FastAPI) -> None:
    @web.exception_handler(LoginRequired)
    async def to_login(request: Request, _: LoginRequired) -> Response:
        return login_redirect(request)

    @web.exception_handler(Forbidden)
    async def refuse(request: Request, exc: Forbidden) -> Response:
        return forbidden(request, exc.reason)

    @web.exception_handler(ChronoqError)
    async def bad_input(request: Request, exc: ChronoqError) -> Response:
        """A bad filter, a missing job, a spec that does not parse: said, not a 500."""
        status = 404 if isinstance(exc, LookupError) else 400
        if request.headers.get("hx-request"):  # said in the page's flash slot
            reply = page(request, "_flash_error.html", status_code=status, message=str(exc))
            reply.headers["HX-Retarget"] = "#flash"
            return reply
        return page(request, "error.html", status_code=status, message=str(exc), view="")
